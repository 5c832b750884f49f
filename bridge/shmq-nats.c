// SPDX-License-Identifier: MIT
/* shmq-nats.c - a bridge between a namespace's topics and a NATS server, both ways, loop-free. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "conf.h"
#include "metrics.h"
#include "shmq.h"

#define PROG "shmq-nats"

#define MAX_PATTERNS 64
#define MAX_EXPORTS 1024 /* exported topics */
#define MAX_IMPORT_PUBS 1024 /* local topics imports publish to */
/*
 * Records published per flush at most (a flush is a round trip to the server, some 0.5 ms
 * here: at 64 a batch it bounded the export to about 115,000 records a second). The group's
 * in-flight limit must let the bridge hold that many leases.
 */
#define BATCH 1024
#define IMPORT_BURST 256 /* NATS messages taken per subscription per round */
#define METRICS_NS 1000000000ull /* how often --metrics-file is written */
#define RESCAN_NS 500000000ull /* how often the namespace is listed for new topics */
#define RETRY_NS 200000000ull /* pause after a failed publish or flush */
#define FLUSH_MS 2000
#define IDLE_NS 1000000L /* sleep of a round that found nothing to do */
#define ORIGIN_MAX 160
#define SUBJECT_MAX (2 * SHMQ_PATTERN_MAX + 8)

/* The NATS headers of a record's origin. */
#define H_ORIGIN "Shmq-Origin"
#define H_TOPIC "Shmq-Topic"
#define H_SEQ "Shmq-Seq"
#define H_PRODUCER "Shmq-Producer"
#define H_PRODUCER_SEQ "Shmq-Producer-Seq"
/* The record header an import tags its records with: where they came from. */
#define HDR_IMPORTED "shmq-origin"

struct counters {
	uint64_t exported; /* records published to NATS and acked */
	uint64_t looped; /* records that came in from NATS, not exported back (acked) */
	uint64_t export_errors; /* publishes or flushes that failed (records released, retried) */
	uint64_t too_big; /* records above the server's max_payload: dropped (group: no DLQ) */
	uint64_t imported; /* NATS messages published into local topics */
	uint64_t echoes; /* NATS messages of our own origin, not imported */
	uint64_t bad_subjects; /* subjects that are no valid topic name or do not match */
	uint64_t bad_headers; /* NATS headers not carried (invalid as record headers, shmq-*) */
	uint64_t import_errors; /* messages not published locally (full topic, too big, ...) */
	uint64_t duplicates; /* JetStream publishes the stream knew already (acked all the same) */
};

struct export_topic {
	char name[SHMQ_NAME_MAX + 1];
	char subject[SUBJECT_MAX]; /* its NATS subject, made once */
	shmq_group *member; /* NULL while it could not be joined (@error says why) */
	int error;
};

struct import_pub {
	char name[SHMQ_NAME_MAX + 1];
	shmq_pub *pub;
};

struct import_sub {
	const char *pattern; /* the local pattern its messages must match */
	natsSubscription *sub;
	bool js; /* a durable JetStream consumer's: acked after the local publish */
};

struct bridge {
	shmq_bus *bus;
	natsConnection *nc;
	jsCtx *js; /* with --jetstream */
	const char *stream; /* --jetstream STREAM, or NULL */
	bool stream_ok; /* the stream was found or made */
	bool stream_warned;
	bool print_subjects; /* --subjects */
	const char *metrics_file; /* --metrics-file, or NULL */
	char metrics_own[4096]; /* NAME.PID.prom in the namespace's metrics directory, or "" */
	uint64_t next_metrics;
	bool js_imports_due; /* --jetstream imports not subscribed yet */
	bool js_warned;
	uint64_t js_retry_at;
	const char *ns;
	const char *url;
	const char *prefix; /* "" for none */
	const char *group;
	int reconnect_ms;
	char origin[ORIGIN_MAX];
	const char *exports[MAX_PATTERNS];
	size_t n_exports;
	const char *imports[MAX_PATTERNS];
	size_t n_imports;
	struct export_topic *topics;
	size_t n_topics;
	struct import_sub subs[2 * MAX_PATTERNS];
	size_t n_subs;
	struct import_pub pubs[MAX_IMPORT_PUBS];
	size_t n_pubs;
	uint8_t *buf;
	size_t buf_len;
	uint64_t next_scan, retry_at;
	struct counters c;
};

static volatile sig_atomic_t stop, dump;
static atomic_uint_fast64_t reconnects; /* relaxed: a counter, read for printing only */

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump = 1;
	else
		stop = 1;
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	atomic_fetch_add_explicit(&reconnects, 1, memory_order_relaxed);
}

/*
 * Given so that natsConnection_Connect() returns at once when no server is up and connects in
 * the background: without a callback it blocks until a server answers, deaf to SIGTERM.
 */
static void on_connected(natsConnection *nc, void *closure)
{
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG
		" [-n NS] --url nats://HOST:PORT [--prefix P] [--export PATTERN]...\n"
		"                 [--import PATTERN]... [--group NAME] [--jetstream STREAM]\n"
		"                 [--reconnect-wait MS] [--metrics-file F] [--config FILE]\n"
		"       " PROG
		" --subjects [--prefix P] [--export PATTERN]... [--import PATTERN]...\n"
		"Bridges the topics of a shmq namespace and the subjects of a NATS server.\n"
		"  -n, --namespace NS      the shmq namespace (default $SHMQ_NAMESPACE or "
		"\"default\")\n"
		"  -u, --url URL           the NATS server (required)\n"
		"  -p, --prefix P          subjects are P.TOPIC (imports strip P. again)\n"
		"  -e, --export PATTERN    publish the records of matching topics to NATS\n"
		"  -i, --import PATTERN    publish NATS messages of matching subjects locally\n"
		"  -g, --group NAME        the consumer group exports read through (nats-bridge)\n"
		"  -j, --jetstream STREAM  export into JetStream stream STREAM (made if absent), "
		"each\n"
		"                          record acked once stored, with a Nats-Msg-Id; import "
		"from\n"
		"                          durable consumers of it, acked after the local publish\n"
		"  -r, --reconnect-wait MS time between reconnect attempts (default 1000)\n"
		"  -M, --metrics-file F    write the counters to F every second (Prometheus text)\n"
		"  -c, --config FILE       options from FILE, a \"key = value\" line each (the "
		"long\n"
		"                          names; export and import repeatable); the command\n"
		"                          line wins, its patterns replacing the file's\n"
		"  -S, --subjects          print the NATS subjects each pattern maps to, and exit\n"
		"  -h, --help              this text\n"
		"  -V, --version           the version\n"
		"SIGUSR1 prints the counters to stderr; they are printed at exit too.\n");
}

/* The host's id: /etc/machine-id, else the host name. */
static void host_id(char *buf, size_t len)
{
	FILE *f = fopen("/etc/machine-id", "r");
	size_t n;

	buf[0] = '\0';
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\r\n")] = '\0';
		fclose(f);
	}
	if (buf[0])
		return;
	if (gethostname(buf, len - 1) < 0)
		snprintf(buf, len, "unknown");
	buf[len - 1] = '\0';
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
}

/* A topic name or prefix: 1-200 chars of [A-Za-z0-9_.-], no empty dot-separated token. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > SHMQ_NAME_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';

		if (!ok || (ch == '.' && s[i + 1] == '.'))
			return false;
	}
	return true;
}

static void print_counters(const struct bridge *b)
{
	const struct counters *c = &b->c;

	fprintf(stderr,
		PROG ": exported %llu looped %llu export_errors %llu too_big %llu imported %llu "
		     "echoes %llu bad_subjects %llu bad_headers %llu import_errors %llu "
		     "duplicates %llu reconnects %llu topics %zu\n",
		(unsigned long long)c->exported, (unsigned long long)c->looped,
		(unsigned long long)c->export_errors, (unsigned long long)c->too_big,
		(unsigned long long)c->imported, (unsigned long long)c->echoes,
		(unsigned long long)c->bad_subjects, (unsigned long long)c->bad_headers,
		(unsigned long long)c->import_errors, (unsigned long long)c->duplicates,
		(unsigned long long)atomic_load_explicit(&reconnects, memory_order_relaxed),
		b->n_topics);
}

/*
 * The NATS subjects that cover local pattern @pattern, with the prefix: its '*' and '>' are
 * NATS's; NATS has no '#', so a pattern with one maps to what covers it ("a.#": "a" and
 * "a.>"; "#" or "a.#.b": ">" or "a.>"), and imports match each message against the pattern
 * itself. Return: the number of subjects (1 or 2).
 */
static int map_pattern(const struct bridge *b, const char *pattern, char (*out)[SUBJECT_MAX])
{
	const char *h = strstr(pattern, "#"), *pre = b->prefix[0] ? "." : "";
	int n;

	if (!h) {
		snprintf(out[0], SUBJECT_MAX, "%s%s%s", b->prefix, pre, pattern);
		return 1;
	}
	n = (int)(h - pattern);
	if (n == 0) {
		snprintf(out[0], SUBJECT_MAX, "%s%s>", b->prefix, pre);
		return 1;
	}
	/* the tokens before '#', without their dot */
	snprintf(out[0], SUBJECT_MAX, "%s%s%.*s.>", b->prefix, pre, n - 1, pattern);
	if (h[1] != '\0')
		return 1;
	snprintf(out[1], SUBJECT_MAX, "%s%s%.*s", b->prefix, pre, n - 1, pattern);
	return 2;
}

/* ---- export ---- */

static bool exported(const struct bridge *b, const char *topic)
{
	size_t i;

	for (i = 0; i < b->n_exports; i++)
		if (shmq_pattern_match(b->exports[i], topic) == 1)
			return true;
	return false;
}

static struct export_topic *find_topic(struct bridge *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->n_topics; i++)
		if (!strcmp(b->topics[i].name, name))
			return &b->topics[i];
	return NULL;
}

/*
 * Join the bridge's group on @t. A new group starts at the oldest record the topic retains,
 * so that what was published before the bridge noticed the topic is exported too. Failures
 * never count (unlimited deliveries): the bridge releases what it could not forward. Without
 * a dead-letter topic: one ("TOPIC.dlq") would match the export patterns in turn, and a
 * record too big for the server would go on dead-lettering into ever longer names.
 */
static void join_topic(struct bridge *b, struct export_topic *t)
{
	struct shmq_group_config cfg = { .max_deliveries = SHMQ_GROUP_DELIVERIES_UNLIMITED,
					 .max_in_flight = BATCH,
					 .flags = SHMQ_GROUP_NO_DLQ };
	int r;

	r = shmq_group_open(b->bus, t->name, b->group, SHMQ_OPEN_CREATE | SHMQ_SUB_EARLIEST, &cfg,
			    &t->member);
	if (r < 0 && r != t->error)
		fprintf(stderr, PROG ": join group '%s' of topic '%s': %s\n", b->group, t->name,
			shmq_strerror(r));
	t->error = r < 0 ? r : 0;
}

static void subject_of(const struct bridge *b, const char *topic, char *buf, size_t len);

/* List the namespace; join every matching topic not joined yet, retry those that failed. */
static void scan(struct bridge *b)
{
	struct shmq_object_info *objs;
	struct export_topic *t;
	size_t cap, i;
	int n;

	n = shmq_bus_list(b->bus, NULL, 0);
	if (n <= 0)
		return;
	cap = (size_t)n + 16; /* room for topics made meanwhile */
	objs = calloc(cap, sizeof(*objs));
	if (!objs)
		return;
	n = shmq_bus_list(b->bus, objs, cap);
	for (i = 0; n > 0 && i < (size_t)n && i < cap; i++) {
		if (objs[i].kind != SHMQ_KIND_TOPIC || objs[i].error ||
		    strlen(objs[i].name) >= sizeof(b->topics[0].name) || !exported(b, objs[i].name))
			continue;
		t = find_topic(b, objs[i].name);
		if (!t) {
			if (b->n_topics == MAX_EXPORTS)
				break;
			t = &b->topics[b->n_topics++];
			memset(t, 0, sizeof(*t));
			memcpy(t->name, objs[i].name, strlen(objs[i].name) + 1); /* fits: above */
			subject_of(b, t->name, t->subject, sizeof(t->subject));
		}
		if (!t->member)
			join_topic(b, t);
	}
	free(objs);
}

static void subject_of(const struct bridge *b, const char *topic, char *buf, size_t len)
{
	if (b->prefix[0])
		snprintf(buf, len, "%s.%s", b->prefix, topic);
	else
		snprintf(buf, len, "%s", topic);
}

/* Copy the record's headers onto @m, NUL-terminating each value on the way. */
static natsStatus copy_headers(natsMsg *m, const void *hdrs, size_t hdrs_len)
{
	char key[SHMQ_HDR_KEY_MAX + 1], val[SHMQ_HDR_VAL_MAX + 1];
	const char *k, *v;
	size_t pos = 0, kn, vn;
	natsStatus s = NATS_OK;

	while (s == NATS_OK && shmq_hdrs_next(hdrs, hdrs_len, &pos, &k, &kn, &v, &vn) == 1) {
		if (kn > SHMQ_HDR_KEY_MAX || vn > SHMQ_HDR_VAL_MAX)
			continue;
		memcpy(key, k, kn);
		key[kn] = '\0';
		memcpy(val, v, vn);
		val[vn] = '\0';
		s = natsMsgHeader_Add(m, key, val);
	}
	return s;
}

/* A number header, written by hand (snprintf() and the subject's were some 3 % in perf). */
static natsStatus add_u64(natsMsg *m, const char *key, uint64_t v)
{
	char num[24], *p = num + sizeof(num) - 1;

	*p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	return natsMsgHeader_Set(m, key, p);
}

/*
 * The stream's message id of a record: its origin, topic, producer id and producer sequence,
 * the same however often the record is sent. Producer ids are unique for the life of a topic
 * segment: a topic removed and made anew within the stream's duplicate window (2 minutes by
 * default) would have its first records taken for duplicates.
 */
static natsStatus add_msg_id(const struct bridge *b, natsMsg *m, const char *topic,
			     const struct shmq_group_msg *info)
{
	char id[ORIGIN_MAX + SHMQ_NAME_MAX + 48];

	snprintf(id, sizeof(id), "%s/%s/%lu/%llu", b->origin, topic,
		 (unsigned long)info->producer_id, (unsigned long long)info->producer_seq);
	return natsMsgHeader_Set(m, "Nats-Msg-Id", id);
}

/* The NATS message of a record: its payload, its headers and its origin's. */
static natsStatus make_msg(struct bridge *b, const struct export_topic *t,
			   const struct shmq_group_msg *info, const void *hdrs, size_t hdrs_len,
			   natsMsg **ret)
{
	const char *topic = t->name;
	natsMsg *m = NULL;
	natsStatus s;

	s = natsMsg_Create(&m, t->subject, NULL, (const char *)b->buf, (int)info->len);
	if (s == NATS_OK)
		s = copy_headers(m, hdrs, hdrs_len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, H_ORIGIN, b->origin);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, H_TOPIC, topic);
	if (s == NATS_OK)
		s = add_u64(m, H_SEQ, info->seq);
	if (s == NATS_OK)
		s = add_u64(m, H_PRODUCER, info->producer_id);
	if (s == NATS_OK)
		s = add_u64(m, H_PRODUCER_SEQ, info->producer_seq);
	if (s == NATS_OK && b->js)
		s = add_msg_id(b, m, topic, info);
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		return s;
	}
	*ret = m;
	return NATS_OK;
}

/*
 * Publish one record. Core NATS: written, not flushed yet (the caller flushes the batch).
 * JetStream: stored in the stream when this returns NATS_OK (the server's publish ack).
 */
static natsStatus publish(struct bridge *b, const struct export_topic *t,
			  const struct shmq_group_msg *info, const void *hdrs, size_t hdrs_len)
{
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsMsg *m;
	natsStatus s;

	s = make_msg(b, t, info, hdrs, hdrs_len, &m);
	if (s != NATS_OK)
		return s;
	if (b->js) {
		s = js_PublishMsg(&pa, b->js, m, NULL, &jerr);
		if (s == NATS_OK && pa->Duplicate)
			b->c.duplicates++;
		jsPubAck_Destroy(pa);
	} else {
		s = natsConnection_PublishMsg(b->nc, m);
	}
	natsMsg_Destroy(m);
	return s;
}

/* Lease the next record into b->buf, growing it for a record that did not fit. */
static int recv_record(struct bridge *b, shmq_group *member, struct shmq_group_msg *info)
{
	uint8_t *nb;
	int r;

	for (;;) {
		r = shmq_group_recv(member, b->buf, b->buf_len, info);
		if (r != -EMSGSIZE)
			return r;
		shmq_group_release(member, info->lease);
		nb = realloc(b->buf, info->len);
		if (!nb)
			return -ENOMEM;
		b->buf = nb;
		b->buf_len = info->len;
	}
}

/* Settle a batch: ack every lease when the flush succeeded, else release them for later. */
static void settle(struct bridge *b, shmq_group *member, const uint64_t *leases, int n, bool ok)
{
	int i;

	for (i = 0; i < n; i++) {
		if (ok && shmq_group_ack(member, leases[i]) == 0)
			b->c.exported++;
		else
			shmq_group_release(member, leases[i]);
	}
	if (!ok && n) {
		b->c.export_errors++;
		b->retry_at = shmq_now_ns() + RETRY_NS;
	}
}

/*
 * Forward up to BATCH records of @t: publish each, flush once, and ack them only after the
 * flush succeeded (the server has them); with JetStream ack each once the stream stored it.
 * Records that came in from NATS are acked unsent.
 * Return: the number of records handled.
 */
static int export_batch(struct bridge *b, struct export_topic *t)
{
	uint64_t leases[BATCH];
	struct shmq_group_msg info;
	const void *hdrs;
	const char *v;
	size_t hdrs_len, vn;
	natsStatus s = NATS_OK;
	int n = 0, seen = 0;

	while (seen < BATCH && recv_record(b, t->member, &info) >= 0) {
		seen++;
		if (shmq_group_headers(t->member, &hdrs, &hdrs_len) < 0)
			hdrs_len = 0;
		if (hdrs_len && shmq_hdrs_get(hdrs, hdrs_len, HDR_IMPORTED, &v, &vn) == 0) {
			shmq_group_ack(t->member, info.lease);
			b->c.looped++;
			continue;
		}
		s = publish(b, t, &info, hdrs, hdrs_len);
		if (s == NATS_MAX_PAYLOAD) {
			shmq_group_term(t->member, info.lease);
			b->c.too_big++;
			s = NATS_OK;
			continue;
		}
		if (s != NATS_OK) {
			shmq_group_release(t->member, info.lease);
			break;
		}
		if (b->js) { /* stored: the publish ack came */
			settle(b, t->member, &info.lease, 1, true);
			continue;
		}
		leases[n++] = info.lease;
	}
	if (n && s == NATS_OK)
		s = natsConnection_FlushTimeout(b->nc, FLUSH_MS);
	settle(b, t->member, leases, n, s == NATS_OK);
	if (s != NATS_OK && !n) {
		b->c.export_errors++;
		b->retry_at = shmq_now_ns() + RETRY_NS;
	}
	return seen;
}

/*
 * With --jetstream: find the stream, or make it (file storage) over the subjects the export
 * patterns map to. Looked for once connected, since the bridge may start before the server.
 * Return: 0, or -1 (told once, tried again later).
 */
static int ensure_stream(struct bridge *b)
{
	char subjects[2 * MAX_PATTERNS][SUBJECT_MAX];
	const char *list[2 * MAX_PATTERNS];
	jsStreamConfig cfg;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	int n = 0, i;
	size_t k;

	s = js_GetStreamInfo(&si, b->js, b->stream, NULL, &jerr);
	if (s == NATS_NOT_FOUND) {
		for (k = 0; k < b->n_exports; k++)
			n += map_pattern(b, b->exports[k], &subjects[n]);
		for (i = 0; i < n; i++)
			list[i] = subjects[i];
		jsStreamConfig_Init(&cfg);
		cfg.Name = b->stream;
		cfg.Subjects = list;
		cfg.SubjectsLen = n;
		cfg.Storage = js_FileStorage;
		s = js_AddStream(&si, b->js, &cfg, NULL, &jerr);
	}
	jsStreamInfo_Destroy(si);
	if (s != NATS_OK) {
		if (!b->stream_warned)
			fprintf(stderr, PROG ": stream '%s': %s (JetStream error %d)\n", b->stream,
				natsStatus_GetText(s), (int)jerr);
		b->stream_warned = true;
		return -1;
	}
	b->stream_ok = true;
	return 0;
}

static int export_all(struct bridge *b)
{
	int work = 0;
	size_t i;

	if (natsConnection_Status(b->nc) != NATS_CONN_STATUS_CONNECTED ||
	    shmq_now_ns() < b->retry_at)
		return 0;
	if (b->js && !b->stream_ok && ensure_stream(b) < 0) {
		b->retry_at = shmq_now_ns() + 10 * RETRY_NS;
		return 0;
	}
	for (i = 0; i < b->n_topics; i++)
		if (b->topics[i].member)
			work += export_batch(b, &b->topics[i]);
	return work;
}

/* ---- import ---- */

/* The producer of local topic @name, opened (and the topic created) on first use. */
static shmq_pub *import_pub(struct bridge *b, const char *name, int *ret_err)
{
	struct import_pub *p;
	size_t i;
	int r;

	for (i = 0; i < b->n_pubs; i++)
		if (!strcmp(b->pubs[i].name, name))
			return b->pubs[i].pub;
	if (b->n_pubs == MAX_IMPORT_PUBS) {
		*ret_err = -EUSERS;
		return NULL;
	}
	p = &b->pubs[b->n_pubs];
	r = shmq_pub_open(b->bus, name, SHMQ_OPEN_CREATE, NULL, &p->pub);
	if (r < 0) {
		*ret_err = r;
		return NULL;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	b->n_pubs++;
	return p->pub;
}

/*
 * Build the record's header block from @m's headers. Headers that are no valid record
 * headers, and "shmq-*" ones (the library's own, with meanings local to their host: times
 * of its clock, its inboxes), are left out and counted. The block ends with shmq-origin,
 * the message's Shmq-Origin or "nats".
 * Return: 1 (built), 0 (the message is an echo of this bridge's own origin).
 */
static int import_headers(struct bridge *b, natsMsg *m, uint8_t *block, size_t *len)
{
	const char **keys = NULL, **vals = NULL, *origin = "nats";
	int nk = 0, nv = 0, i, j;

	*len = 0;
	/* libnats sets @origin to NULL when the message has no headers at all */
	if (natsMsgHeader_Get(m, H_ORIGIN, &origin) != NATS_OK || !origin)
		origin = "nats";
	else if (!strcmp(origin, b->origin))
		return 0;
	if (natsMsgHeader_Keys(m, &keys, &nk) != NATS_OK)
		nk = 0;
	for (i = 0; i < nk; i++) {
		if (!strncmp(keys[i], "shmq-", 5) ||
		    natsMsgHeader_Values(m, keys[i], &vals, &nv) != NATS_OK) {
			b->c.bad_headers++;
			continue;
		}
		for (j = 0; j < nv; j++)
			if (shmq_hdrs_add(block, SHMQ_HDRS_MAX, len, keys[i], vals[j],
					  strlen(vals[j])) < 0)
				b->c.bad_headers++;
		free((void *)vals);
	}
	free((void *)keys);
	if (shmq_hdrs_add(block, SHMQ_HDRS_MAX, len, HDR_IMPORTED, origin, strlen(origin)) < 0)
		b->c.bad_headers++;
	return 1;
}

/* A local publish error that may pass: a full topic, a stalled or dead producer, no memory. */
static bool transient(int err)
{
	return err == -EAGAIN || err == -ETIMEDOUT || err == -ESTALE || err == -ENOMEM ||
	       err == -EUSERS || err == -ENOSPC || err == -EBUSY;
}

/*
 * Publish NATS message @m into its local topic, waiting up to 1 s for room in a full one.
 * Return: 0 (published, or left out: an echo, a bad subject), 1 (refused for good: too big
 * for the topic, a topic that cannot be opened as one), -1 (not published now: try again).
 */
static int import_msg(struct bridge *b, const struct import_sub *is, natsMsg *m)
{
	uint8_t block[SHMQ_HDRS_MAX];
	const char *name = natsMsg_GetSubject(m);
	size_t plen = strlen(b->prefix), hlen;
	shmq_pub *pub;
	int r = 0;

	if (plen) {
		if (strncmp(name, b->prefix, plen) || name[plen] != '.')
			goto bad_subject;
		name += plen + 1;
	}
	if (!valid_name(name) || shmq_pattern_match(is->pattern, name) != 1)
		goto bad_subject;
	if (!import_headers(b, m, block, &hlen)) {
		b->c.echoes++;
		return 0;
	}
	pub = import_pub(b, name, &r);
	if (pub)
		r = shmq_pub_send_hdrs(pub, block, hlen, natsMsg_GetData(m),
				       (size_t)natsMsg_GetDataLength(m), 0);
	if (r == -EAGAIN && shmq_pub_wait(pub, 0, 1000000000ull) == 0)
		r = shmq_pub_send_hdrs(pub, block, hlen, natsMsg_GetData(m),
				       (size_t)natsMsg_GetDataLength(m), 0);
	if (r < 0) {
		fprintf(stderr, PROG ": publish to '%s': %s\n", name, shmq_strerror(r));
		b->c.import_errors++;
		return transient(r) ? -1 : 1;
	}
	b->c.imported++;
	return 0;
bad_subject:
	b->c.bad_subjects++;
	return 0;
}

static int js_subscribe_all(struct bridge *b);

static int import_all(struct bridge *b)
{
	natsMsg *m;
	int work = 0, k, r;
	size_t i;

	if (b->js_imports_due && js_subscribe_all(b) < 0)
		return 0;
	for (i = 0; i < b->n_subs; i++) {
		for (k = 0; k < IMPORT_BURST; k++) {
			if (natsSubscription_NextMsg(&m, b->subs[i].sub, 0) != NATS_OK)
				break;
			r = import_msg(b, &b->subs[i], m);
			/* JetStream: acked once published here; else delivered again in 1 s, or never */
			if (b->subs[i].js && r == 0)
				natsMsg_Ack(m, NULL);
			else if (b->subs[i].js && r > 0)
				natsMsg_Term(m, NULL); /* never delivered again */
			else if (b->subs[i].js)
				natsMsg_NakWithDelay(m, 1000, NULL);
			natsMsg_Destroy(m);
			work++;
		}
	}
	return work;
}

/*
 * A durable push consumer of the stream for @subject, named after the namespace and the
 * subscription's place in the list ("shmq-nats_NS_0", ...): a bridge started again with the
 * same --import patterns in the same order goes on where it was.
 */
static natsStatus js_sub(struct bridge *b, struct import_sub *is, const char *subject)
{
	char durable[64];
	jsSubOptions so;
	jsErrCode jerr = 0;

	snprintf(durable, sizeof(durable), "shmq-nats_%s_%zu", shmq_bus_namespace(b->bus),
		 b->n_subs);
	jsSubOptions_Init(&so);
	so.Stream = b->stream;
	so.Config.Durable = durable;
	so.Config.AckPolicy = js_AckExplicit;
	so.ManualAck = true;
	return js_SubscribeSync(&is->sub, b->js, subject, NULL, &so, &jerr);
}

/*
 * With --jetstream, imports subscribe once connected (the consumers are looked up or made
 * through the server's API), every 2 s until it works. Return: 0, or -1 (not yet).
 */
static int subscribe(struct bridge *b, const char *pattern);

static int js_subscribe_all(struct bridge *b)
{
	size_t i;

	if (natsConnection_Status(b->nc) != NATS_CONN_STATUS_CONNECTED ||
	    shmq_now_ns() < b->js_retry_at)
		return -1;
	for (i = 0; i < b->n_subs; i++)
		natsSubscription_Destroy(b->subs[i].sub);
	b->n_subs = 0;
	for (i = 0; i < b->n_imports; i++) {
		if (subscribe(b, b->imports[i]) < 0) {
			b->js_retry_at = shmq_now_ns() + 10 * RETRY_NS;
			return -1;
		}
	}
	b->js_imports_due = false;
	return 0;
}

static int subscribe(struct bridge *b, const char *pattern)
{
	char subjects[2][SUBJECT_MAX];
	struct import_sub *is;
	natsStatus s;
	int n, i;

	n = map_pattern(b, pattern, subjects);
	for (i = 0; i < n; i++) {
		is = &b->subs[b->n_subs];
		is->js = b->js != NULL;
		s = is->js ? js_sub(b, is, subjects[i])
			   : natsConnection_SubscribeSync(&is->sub, b->nc, subjects[i]);
		if (s == NATS_OK)
			s = natsSubscription_SetPendingLimits(is->sub, -1, -1);
		if (s != NATS_OK) {
			if (!b->js_warned)
				fprintf(stderr, PROG ": subscribe '%s': %s\n", subjects[i],
					natsStatus_GetText(s));
			b->js_warned = b->js != NULL;
			return -1;
		}
		is->pattern = pattern;
		b->n_subs++;
	}
	return 0;
}

/* ---- setup ---- */

static int connect_nats(struct bridge *b)
{
	natsOptions *opts = NULL;
	natsStatus s;

	s = natsOptions_Create(&opts);
	if (s == NATS_OK)
		s = natsOptions_SetURL(opts, b->url);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(opts, b->reconnect_ms);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(opts, true, on_connected, NULL);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(opts, on_reconnected, NULL);
	if (s == NATS_OK) {
		s = natsConnection_Connect(&b->nc, opts);
		if (s == NATS_NOT_YET_CONNECTED)
			s = NATS_OK; /* it keeps trying in the background */
	}
	natsOptions_Destroy(opts);
	if (s != NATS_OK) {
		fprintf(stderr, PROG ": connect to '%s': %s\n", b->url, natsStatus_GetText(s));
		return -1;
	}
	return 0;
}

static int init_js(struct bridge *b)
{
	jsOptions o;
	natsStatus s;

	jsOptions_Init(&o);
	o.Wait = FLUSH_MS;
	s = natsConnection_JetStream(&b->js, b->nc, &o);
	if (s != NATS_OK) {
		fprintf(stderr, PROG ": JetStream: %s\n", natsStatus_GetText(s));
		return -1;
	}
	return 0;
}

static int parse_reconnect(const char *s, int *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > 600000)
		return -1;
	*ret = (int)v;
	return 0;
}

static int add_pattern(const char **list, size_t *n, const char *p, const char *what)
{
	if (shmq_pattern_check(p) < 0) {
		fprintf(stderr, PROG ": %s '%s': %s\n", what, p, shmq_last_detail());
		return -1;
	}
	if (*n == MAX_PATTERNS) {
		fprintf(stderr, PROG ": more than %d %s patterns\n", MAX_PATTERNS, what);
		return -1;
	}
	list[(*n)++] = p;
	return 0;
}

/* --subjects: "export|import PATTERN SUBJECT..." a line per pattern. Return: 0. */
static int print_subjects(const struct bridge *b)
{
	char subjects[2][SUBJECT_MAX];
	size_t k;
	int n, i;

	for (k = 0; k < b->n_exports + b->n_imports; k++) {
		bool ex = k < b->n_exports;
		const char *p = ex ? b->exports[k] : b->imports[k - b->n_exports];

		n = map_pattern(b, p, subjects);
		printf("%s %s", ex ? "export" : "import", p);
		for (i = 0; i < n; i++)
			printf(" %s", subjects[i]);
		putchar('\n');
	}
	return 0;
}

/* ---- --config FILE ---- */

#define CONF_MAX_STRINGS (2 * MAX_PATTERNS + 16)

/* The file's values: static, so that they live as long as the process (and are not leaks). */
static char *conf_strings[CONF_MAX_STRINGS];
static size_t n_conf_strings;

struct conf_ctx {
	struct bridge *b;
	bool cli_exports, cli_imports; /* the command line gave these lists: the file's go */
};

static const char *conf_keep(const char *v)
{
	if (n_conf_strings == CONF_MAX_STRINGS)
		return NULL;
	conf_strings[n_conf_strings] = strdup(v);
	return conf_strings[n_conf_strings++];
}

/* A scalar option from the file: taken unless the command line set it. */
static int conf_scalar(const char **slot, const char *val)
{
	const char *v;

	if (*slot)
		return 0;
	v = conf_keep(val);
	if (!v)
		return -ENOMEM;
	*slot = v;
	return 0;
}

static int conf_pattern(struct conf_ctx *c, bool ex, const char *val)
{
	const char *v;

	if (ex ? c->cli_exports : c->cli_imports)
		return 0;
	v = conf_keep(val);
	if (!v)
		return -ENOMEM;
	return add_pattern(ex ? c->b->exports : c->b->imports,
			   ex ? &c->b->n_exports : &c->b->n_imports, v,
			   ex ? "export" : "import") < 0
		       ? -EINVAL
		       : 0;
}

static int conf_line(void *arg, char *s, const char *path, int line)
{
	struct conf_ctx *c = arg;
	struct bridge *b = c->b;
	char *key, *val;
	int r = -ENOKEY;

	if (conf_split(s, &key, &val) == 0 && *val) {
		if (!strcmp(key, "export") || !strcmp(key, "import"))
			r = conf_pattern(c, key[0] == 'e', val);
		else if (!strcmp(key, "reconnect-wait"))
			r = b->reconnect_ms || parse_reconnect(val, &b->reconnect_ms) == 0
				    ? 0
				    : -EINVAL;
		else if (!strcmp(key, "namespace"))
			r = conf_scalar(&b->ns, val);
		else if (!strcmp(key, "url"))
			r = conf_scalar(&b->url, val);
		else if (!strcmp(key, "prefix"))
			r = conf_scalar(&b->prefix, val);
		else if (!strcmp(key, "group"))
			r = conf_scalar(&b->group, val);
		else if (!strcmp(key, "jetstream"))
			r = conf_scalar(&b->stream, val);
		else if (!strcmp(key, "metrics-file"))
			r = conf_scalar(&b->metrics_file, val);
	}
	if (r == -ENOKEY)
		fprintf(stderr,
			PROG
			": %s:%d: unknown line (namespace, url, prefix, export, import, group, "
			"reconnect-wait, jetstream, metrics-file = VALUE)\n",
			path, line);
	else if (r < 0)
		fprintf(stderr, PROG ": %s:%d: bad value of '%s'%s\n", path, line, key,
			r == -ENOMEM ? " (out of memory, or too many lines)" : "");
	return r;
}

/* Return: 0, or -1 after saying why. */
static int read_config(struct bridge *b, const char *path)
{
	struct conf_ctx c = { b, b->n_exports > 0, b->n_imports > 0 };
	int line, r = conf_read(path, conf_line, &c, &line);

	if (r == -E2BIG)
		fprintf(stderr, PROG ": %s:%d: a line longer than 1023 bytes\n", path, line);
	else if (r < 0 && !line)
		fprintf(stderr, PROG ": config %s: %s\n", path, strerror(-r));
	return r < 0 ? -1 : 0;
}

/* What the options gave, once all are read. Return: -1 to go on, else the exit status. */
static int check_args(const struct bridge *b, int argc)
{
	if (b->prefix[0] && !valid_name(b->prefix)) {
		fprintf(stderr, PROG ": --prefix '%s': not dot-separated [A-Za-z0-9_-] tokens\n",
			b->prefix);
		return 2;
	}
	if (b->print_subjects && optind == argc)
		return print_subjects(b);
	if (optind < argc || !b->url || (!b->n_exports && !b->n_imports)) {
		fprintf(stderr, PROG ": %s\n",
			optind < argc ? "unexpected argument"
			: !b->url     ? "--url is required"
				      : "nothing to bridge: give --export or --import");
		usage(stderr);
		return 2;
	}
	return -1;
}

/* Return: -1 to go on, else the exit status. */
static int parse(struct bridge *b, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "namespace", required_argument, NULL, 'n' },
		{ "url", required_argument, NULL, 'u' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "export", required_argument, NULL, 'e' },
		{ "import", required_argument, NULL, 'i' },
		{ "group", required_argument, NULL, 'g' },
		{ "reconnect-wait", required_argument, NULL, 'r' },
		{ "jetstream", required_argument, NULL, 'j' },
		{ "subjects", no_argument, NULL, 'S' },
		{ "metrics-file", required_argument, NULL, 'M' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *config = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "n:u:p:e:i:g:r:j:SM:c:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			b->ns = optarg;
			break;
		case 'u':
			b->url = optarg;
			break;
		case 'p':
			b->prefix = optarg;
			break;
		case 'e':
			if (add_pattern(b->exports, &b->n_exports, optarg, "export") < 0)
				return 2;
			break;
		case 'i':
			if (add_pattern(b->imports, &b->n_imports, optarg, "import") < 0)
				return 2;
			break;
		case 'g':
			b->group = optarg;
			break;
		case 'j':
			b->stream = optarg;
			break;
		case 'S':
			b->print_subjects = true;
			break;
		case 'M':
			b->metrics_file = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'r':
			if (parse_reconnect(optarg, &b->reconnect_ms) < 0) {
				fprintf(stderr, PROG ": --reconnect-wait '%s': not 1-600000 ms\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf(PROG " %s\n", shmq_version());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (config && read_config(b, config) < 0)
		return 2;
	/* The defaults, for what neither the command line nor the file set. */
	if (!b->prefix)
		b->prefix = "";
	if (!b->group)
		b->group = "nats-bridge";
	if (!b->reconnect_ms)
		b->reconnect_ms = 1000;
	return check_args(b, argc);
}

static int setup(struct bridge *b)
{
	char host[128];
	size_t i;
	int r;

	r = shmq_bus_open(b->ns, 0, &b->bus);
	if (r < 0) {
		fprintf(stderr, PROG ": open namespace '%s': %s\n", b->ns ? b->ns : "",
			shmq_strerror(r));
		return -1;
	}
	host_id(host, sizeof(host));
	snprintf(b->origin, sizeof(b->origin), "%s/%s", host, shmq_bus_namespace(b->bus));
	b->topics = calloc(MAX_EXPORTS, sizeof(*b->topics));
	b->buf_len = SHMQ_TOPIC_DEFAULT_MAX_MSG;
	b->buf = malloc(b->buf_len);
	if (!b->topics || !b->buf) {
		fprintf(stderr, PROG ": %s\n", strerror(ENOMEM));
		return -1;
	}
	if (connect_nats(b) < 0)
		return -1;
	if (b->stream && init_js(b) < 0)
		return -1;
	b->js_imports_due = b->js && b->n_imports;
	for (i = 0; i < b->n_imports && !b->js; i++)
		if (subscribe(b, b->imports[i]) < 0)
			return -1;
	return 0;
}

static void teardown(struct bridge *b)
{
	size_t i;

	for (i = 0; i < b->n_topics; i++)
		shmq_group_close(b->topics[i].member); /* releases the leases held */
	for (i = 0; i < b->n_subs; i++)
		natsSubscription_Destroy(b->subs[i].sub);
	jsCtx_Destroy(b->js);
	for (i = 0; i < b->n_pubs; i++)
		shmq_pub_close(b->pubs[i].pub);
	if (b->nc) {
		/* not connected: nothing would be sent, the flush only waited its 2 s */
		if (natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED)
			natsConnection_FlushTimeout(b->nc, FLUSH_MS);
		natsConnection_Destroy(b->nc);
	}
	nats_Close();
	free(b->topics);
	free(b->buf);
	shmq_bus_close(b->bus);
}

struct metric {
	const char *name, *help;
	uint64_t value;
};

/* The exported topics' backlog: records their group owes (the topic's tail - the floor). */
static void write_backlog(const struct bridge *b, FILE *f, const char *ns, int pid)
{
	struct shmq_group_stats st;
	size_t i;

	fprintf(f, "# HELP shmq_nats_backlog Records an exported topic holds for the bridge.\n"
		   "# TYPE shmq_nats_backlog gauge\n");
	for (i = 0; i < b->n_topics; i++)
		if (shmq_group_stat(b->bus, b->topics[i].name, b->group, &st, NULL, 0) >= 0)
			fprintf(f,
				"shmq_nats_backlog{namespace=\"%s\",bridge=\"%d\",topic=\"%s\"} "
				"%llu\n",
				ns, pid, b->topics[i].name,
				(unsigned long long)(st.tail - st.floor));
}

/*
 * The counters in the Prometheus text format onto @f, for --metrics-file (node_exporter's
 * textfile collector) and for the file in the namespace's metrics directory that shmq
 * metrics and shmqd --metrics add. Each sample has the labels namespace and bridge (our pid:
 * two bridges of a namespace are two series).
 */
static void put_metrics(const struct bridge *b, FILE *f)
{
	const struct counters *c = &b->c;
	const struct metric m[] = {
		{ "exported", "Records published to NATS and acked.", c->exported },
		{ "looped", "Records that came in from NATS, not exported back.", c->looped },
		{ "export_errors", "Failed publishes or flushes (records kept).",
		  c->export_errors },
		{ "too_big", "Records above the server's max_payload, dropped.", c->too_big },
		{ "imported", "NATS messages published into local topics.", c->imported },
		{ "echoes", "NATS messages of the bridge's own origin, not imported.", c->echoes },
		{ "bad_subjects", "Subjects refused as topic names.", c->bad_subjects },
		{ "bad_headers", "NATS headers not carried.", c->bad_headers },
		{ "import_errors", "Messages not published locally.", c->import_errors },
		{ "duplicates", "JetStream publishes the stream already had.", c->duplicates },
		{ "reconnects", "Reconnections to the NATS server.",
		  atomic_load_explicit(&reconnects, memory_order_relaxed) },
	};
	const char *ns = shmq_bus_namespace(b->bus);
	int pid = (int)getpid();
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		fprintf(f,
			"# HELP shmq_nats_%s_total %s\n# TYPE shmq_nats_%s_total counter\n"
			"shmq_nats_%s_total{namespace=\"%s\",bridge=\"%d\"} %llu\n",
			m[i].name, m[i].help, m[i].name, m[i].name, ns, pid,
			(unsigned long long)m[i].value);
	fprintf(f,
		"# HELP shmq_nats_connected 1 while connected to the NATS server.\n"
		"# TYPE shmq_nats_connected gauge\n"
		"shmq_nats_connected{namespace=\"%s\",bridge=\"%d\"} %d\n",
		ns, pid, natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED);
	write_backlog(b, f, ns, pid);
}

/* @text (@len bytes) to PATH.tmp, then renamed over @path: a reader never sees half a file. */
static void put_file(const char *path, const char *text, size_t len)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	bool ok = fwrite(text, 1, len, f) == len;

	if (fclose(f) == 0 && ok)
		rename(tmp, path);
	else
		unlink(tmp);
}

/* Both files, when they are due or at the end: the counters and backlogs read once. */
static void write_all_metrics(const struct bridge *b)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!b->metrics_file && !b->metrics_own[0])
		return;
	f = open_memstream(&text, &len);
	if (!f)
		return;
	put_metrics(b, f);
	if (fclose(f) == 0) {
		if (b->metrics_file)
			put_file(b->metrics_file, text, len);
		if (b->metrics_own[0])
			put_file(b->metrics_own, text, len);
	}
	free(text);
}

/*
 * Our file in the namespace's metrics directory (made if absent, as its parent): shmq
 * metrics and shmqd --metrics add it while we live. Without a directory we can make, none.
 */
static void metrics_own_path(struct bridge *b)
{
	char dir[sizeof(b->metrics_own) - 32];

	if (metrics_dir(shmq_bus_namespace(b->bus), dir, sizeof(dir)) < 0)
		return;
	snprintf(b->metrics_own, sizeof(b->metrics_own), "%s/shmq-nats.%d.prom", dir,
		 (int)getpid());
	if (conf_mkdirs(b->metrics_own) < 0)
		b->metrics_own[0] = '\0';
}

static void run(struct bridge *b)
{
	struct timespec idle = { 0, IDLE_NS };
	uint64_t now;
	int work;

	while (!stop) {
		now = shmq_now_ns();
		if (b->n_exports && now >= b->next_scan) {
			scan(b);
			b->next_scan = now + RESCAN_NS;
		}
		work = export_all(b) + import_all(b);
		if (dump) {
			dump = 0;
			print_counters(b);
		}
		if (now >= b->next_metrics) {
			write_all_metrics(b);
			b->next_metrics = now + METRICS_NS;
		}
		if (!work)
			nanosleep(&idle, NULL);
	}
}

int main(int argc, char **argv)
{
	struct bridge b = { 0 }; /* parse() fills in the defaults */
	struct sigaction sa = { .sa_handler = on_signal };
	int rc;

	rc = parse(&b, argc, argv);
	if (rc >= 0)
		return rc;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = setup(&b) < 0 ? 1 : 0;
	if (rc == 0) {
		metrics_own_path(&b);
		run(&b);
	}
	if (b.bus)
		print_counters(&b);
	if (rc == 0 && b.metrics_file)
		write_all_metrics(&b);
	if (b.metrics_own[0])
		unlink(b.metrics_own); /* counted no more once we are gone */
	teardown(&b);
	return rc;
}
