/* SPDX-License-Identifier: MIT */
/* check.c - the chaos checker: reads the workers' logs and counts what the bus promised. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos.h"

#define MAX_WITNESS 8

/* What the logs say of one record (a producer incarnation's record on one topic). */
struct rec {
	uint64_t key; /* 0: empty entry */
	uint8_t confirmed;
	uint8_t seen[MAX_WITNESS]; /* deliveries to each witness subscriber */
	uint16_t leased, acked, dead;
	uint8_t held_by_dead; /* the last lease of a member that was killed with it */
};

struct table {
	struct rec *e;
	size_t cap, n;
};

struct figures {
	uint64_t confirmed, delivered, acked, dead_lettered;
	uint64_t lost_reliable, lost_group, lost_lossy, ack_unlogged, open_at_death, ack_mismatch;
	uint64_t dup_subscriber, dup_ack, redelivered, dead_twice;
	uint64_t out_of_order, unconfirmed, phantom;
	uint64_t requests, replies, wrong_replies, req_timeouts, req_unreachable;
	uint64_t keyed_confirmed, keyed_processed, lost_keyed, dup_key, redelivered_key;
	uint64_t out_of_order_key;
	unsigned witnesses;
};

/*
 * Producer incarnations: the highest confirmed sequence per topic (and per key of a keyed
 * producer) and whether it was killed.
 */
struct prod {
	uint64_t max_conf[2];
	uint64_t kmax_conf[CHAOS_KEYS];
	bool killed, known;
};

/* One lease of a partitioned member, its outcome from the same log ('?': none logged). */
struct kev {
	uint64_t t_ns, seq;
	uint32_t wid, inc, key, idx;
	char outcome;
};

struct kevs {
	struct kev *e;
	size_t n, cap;
};

static struct prod prods[256][256];

static uint64_t key_of(char t, unsigned wid, unsigned inc, uint64_t seq)
{
	return ((uint64_t)(t == 'l') << 63) | ((uint64_t)(wid & 0xff) << 48) |
	       ((uint64_t)(inc & 0xffff) << 32) | (seq & 0xffffffffu);
}

/* A keyed record: the producer, its incarnation, the key and the key's sequence. */
static uint64_t kkey_of(unsigned wid, unsigned inc, unsigned key, uint64_t seq)
{
	return ((uint64_t)(wid & 0xff) << 56) | ((uint64_t)(inc & 0xffff) << 40) |
	       ((uint64_t)(key & 0xff) << 32) | (seq & 0xffffffffu);
}

static struct rec *lookup(struct table *t, uint64_t key)
{
	size_t i;

	if (t->n * 2 >= t->cap) {
		struct table nt = { .cap = t->cap ? t->cap * 2 : 1 << 16 };

		nt.e = calloc(nt.cap, sizeof(*nt.e));
		if (!nt.e)
			abort();
		for (size_t j = 0; j < t->cap; j++)
			if (t->e[j].key)
				*lookup(&nt, t->e[j].key) = t->e[j];
		free(t->e);
		*t = nt;
	}
	for (i = (key * 0x9e3779b97f4a7c15ull) >> 20 & (t->cap - 1); t->e[i].key;
	     i = (i + 1) & (t->cap - 1))
		if (t->e[i].key == key)
			return &t->e[i];
	t->e[i].key = key;
	t->n++;
	return &t->e[i];
}

/* The lines of one log file, read whole (a torn last line is dropped). */
static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 65536 > cap && !(buf = realloc(buf, cap = cap * 2 + 65536)))
			abort();
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	while (len && buf[len - 1] != '\n')
		len--;
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

struct logfile {
	char kind[16];
	unsigned wid, inc, witness;
	bool clean;
};

/* First pass over a file: its header and whether it ended cleanly ("Z"). */
static int head_of(const char *buf, struct logfile *lf)
{
	if (sscanf(buf, "H %15s %u %u", lf->kind, &lf->wid, &lf->inc) != 3)
		return -EBADMSG;
	lf->clean = strstr(buf, "\nZ\n") != NULL;
	return 0;
}

static void producer_line(const char *l, const struct logfile *lf, struct table *t,
			  struct figures *f)
{
	unsigned long long seq;
	char top;
	struct prod *p = &prods[lf->wid & 255][lf->inc & 255];

	if (sscanf(l, "S %c %llu", &top, &seq) != 2 || (top != 'r' && top != 'l'))
		return;
	lookup(t, key_of(top, lf->wid, lf->inc, seq))->confirmed = 1;
	if (seq > p->max_conf[top == 'l'])
		p->max_conf[top == 'l'] = seq;
	f->confirmed++;
}

/* A keyed producer's "S k key seq" lines: confirmed records, per key. */
static void kproducer_line(const char *l, const struct logfile *lf, struct table *kt,
			   struct figures *f)
{
	struct prod *p = &prods[lf->wid & 255][lf->inc & 255];
	unsigned long long seq;
	unsigned key;

	if (sscanf(l, "S k %u %llu", &key, &seq) != 2 || key >= CHAOS_KEYS || !seq)
		return;
	lookup(kt, kkey_of(lf->wid, lf->inc, key, seq))->confirmed = 1;
	if (seq > p->kmax_conf[key])
		p->kmax_conf[key] = seq;
	f->keyed_confirmed++;
}

/*
 * A partitioned member's log: each lease ("L") is an event, and the outcome line that follows
 * it in the same file (the member handles one lease at a time) is its outcome.
 */
static void kmember_file(char *buf, struct table *kt, struct kevs *ev, struct figures *f)
{
	unsigned long long seq, t;
	unsigned pw, pi, key, part;
	struct kev *last = NULL;

	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		if (l[0] == 'L' &&
		    sscanf(l, "L %u %u %u %llu %u %llu", &pw, &pi, &key, &seq, &part, &t) == 6) {
			if (ev->n == ev->cap &&
			    !(ev->e = realloc(ev->e,
					      (ev->cap = ev->cap * 2 + 4096) * sizeof(*ev->e))))
				abort();
			last = &ev->e[ev->n];
			*last = (struct kev){ .t_ns = t,
					      .seq = seq,
					      .wid = pw,
					      .inc = pi,
					      .key = key,
					      .idx = (uint32_t)ev->n,
					      .outcome = '?' };
			ev->n++;
			lookup(kt, kkey_of(pw, pi, key, seq))->leased++;
			f->keyed_processed++;
		} else if ((l[0] == 'A' || l[0] == 'N' || l[0] == 'F') && last &&
			   sscanf(l + 1, " %u %u %u %llu", &pw, &pi, &key, &seq) == 4 &&
			   pw == last->wid && pi == last->inc && key == last->key &&
			   seq == last->seq) {
			last->outcome = l[0];
			last = NULL;
		}
	}
}

/* A subscriber's log: duplicates and order per producer incarnation, and what it saw. */
static void subscriber_file(char *buf, const struct logfile *lf, struct table *t, struct figures *f)
{
	static uint64_t last[256][256];
	unsigned long long seq;
	unsigned pw, pi;
	char top;

	memset(last, 0, sizeof(last));
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		if (sscanf(l, "D %c %u %u %llu", &top, &pw, &pi, &seq) != 4)
			continue;
		f->delivered++;
		if (seq == last[pw & 255][pi & 255])
			f->dup_subscriber++;
		else if (seq < last[pw & 255][pi & 255])
			f->out_of_order++;
		else
			last[pw & 255][pi & 255] = seq;
		if (lf->witness < MAX_WITNESS) {
			struct rec *r = lookup(t, key_of(top, pw, pi, seq));

			r->seen[lf->witness]++;
		}
	}
}

/* A member's log: leases and acks; its last lease, when it was killed, may have been acked. */
static void member_file(char *buf, const struct logfile *lf, struct table *t, struct figures *f)
{
	struct rec *open = NULL;
	unsigned long long seq;
	unsigned pw, pi, att;

	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		if (sscanf(l + 1, " %u %u %llu %u", &pw, &pi, &seq, &att) < 3)
			continue;
		struct rec *r = lookup(t, key_of('r', pw, pi, seq));

		if (l[0] == 'G') {
			r->leased++;
			f->delivered++;
			open = r;
		} else if (l[0] == 'A' || l[0] == 'N' || l[0] == 'F') {
			r->acked += l[0] == 'A';
			f->acked += l[0] == 'A';
			open = NULL;
		}
	}
	if (open && !lf->clean) {
		open->held_by_dead = 1;
		f->open_at_death++;
	}
}

static void dlq_file(char *buf, struct table *t, struct figures *f)
{
	unsigned long long seq;
	unsigned pw, pi, reason;

	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		if (sscanf(l, "X %u %u %llu %u", &pw, &pi, &seq, &reason) != 4)
			continue;
		lookup(t, key_of('r', pw, pi, seq))->dead++;
		f->dead_lettered++;
	}
}

static void requester_file(char *buf, struct figures *f)
{
	unsigned n;
	int code;

	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		if (l[0] == 'Q')
			f->requests++;
		if (sscanf(l, "R %u %d", &n, &code) != 2)
			continue;
		f->replies += code == 0;
		f->wrong_replies += code == 1;
		f->req_timeouts += code == -ETIMEDOUT;
		f->req_unreachable += code == -EHOSTUNREACH;
	}
}

struct tables {
	struct table t, kt;
	struct kevs ev;
};

static int read_file(const char *dir, const char *name, struct tables *ts, struct figures *f,
		     bool producers)
{
	struct table *t = &ts->t;
	char path[600];
	struct logfile lf = { 0 };
	size_t len;
	char *buf;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(buf = slurp(path, &len)))
		return -errno;
	if (len == 0 || head_of(buf, &lf) < 0) {
		free(buf);
		return 0; /* killed before its header was written: it did nothing */
	}
	if (producers != (!strcmp(lf.kind, "prod") || !strcmp(lf.kind, "kprod"))) {
		free(buf);
		return 0;
	}
	if (producers) {
		struct prod *p = &prods[lf.wid & 255][lf.inc & 255];
		bool keyed = !strcmp(lf.kind, "kprod");

		p->known = true;
		p->killed = !lf.clean;
		for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
			if (keyed)
				kproducer_line(l, &lf, &ts->kt, f);
			else
				producer_line(l, &lf, t, f);
	} else if (!strcmp(lf.kind, "kmemb")) {
		kmember_file(buf, &ts->kt, &ts->ev, f);
	} else if (!strcmp(lf.kind, "wsub") || !strcmp(lf.kind, "lsub")) {
		lf.witness = f->witnesses++;
		subscriber_file(buf, &lf, t, f);
	} else if (!strcmp(lf.kind, "vsub")) {
		lf.witness = MAX_WITNESS;
		subscriber_file(buf, &lf, t, f);
	} else if (!strcmp(lf.kind, "memb")) {
		member_file(buf, &lf, t, f);
	} else if (!strcmp(lf.kind, "dlqw")) {
		dlq_file(buf, t, f);
	} else if (!strcmp(lf.kind, "req")) {
		requester_file(buf, f);
	}
	free(buf);
	return 0;
}

/* Witness numbers come in file order; which topic each watched is in its records' keys. */
static void judge(struct table *t, struct figures *f, const bool lossy_witness[MAX_WITNESS])
{
	for (size_t i = 0; i < t->cap; i++) {
		struct rec *r = &t->e[i];
		bool lossy = r->key >> 63;
		unsigned wid = (r->key >> 48) & 0x7fff, inc = (r->key >> 32) & 0xffff;
		uint64_t seq = r->key & 0xffffffffu;
		struct prod *p = &prods[wid & 255][inc & 255];

		if (!r->key)
			continue;
		if (!r->confirmed) {
			/* delivered, never confirmed: the producer died between send and log line */
			if (p->killed && seq == p->max_conf[lossy] + 1)
				f->unconfirmed++;
			else
				f->phantom++;
			continue;
		}
		for (unsigned w = 0; w < f->witnesses; w++) {
			if (lossy_witness[w] != lossy || r->seen[w])
				continue;
			if (lossy)
				f->lost_lossy++;
			else
				f->lost_reliable++;
		}
		if (lossy)
			continue;
		if (!r->acked && !r->dead) {
			if (r->held_by_dead)
				f->ack_unlogged++;
			else
				f->lost_group++;
		}
		f->dup_ack += r->acked > 1;
		f->dead_twice += r->dead > 1;
		f->redelivered += r->leased > 1 ? r->leased - 1u : 0;
	}
}

/* Keyed records: every confirmed one processed; the others delivered are extras or phantoms. */
static void judge_keyed(const struct table *kt, struct figures *f)
{
	for (size_t i = 0; i < kt->cap; i++) {
		const struct rec *r = &kt->e[i];
		unsigned wid = (r->key >> 56) & 0xff, inc = (r->key >> 40) & 0xffff;
		unsigned key = (r->key >> 32) & 0xff;
		uint64_t seq = r->key & 0xffffffffu;
		const struct prod *p = &prods[wid][inc & 255];

		if (!r->key)
			continue;
		if (r->confirmed) {
			f->lost_keyed += r->leased == 0;
			continue;
		}
		if (p->killed && key < CHAOS_KEYS && seq == p->kmax_conf[key] + 1)
			f->unconfirmed++;
		else
			f->phantom++;
	}
}

static int cmp_kev(const void *a, const void *b)
{
	const struct kev *x = a, *y = b;

	if (x->wid != y->wid)
		return x->wid < y->wid ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Key order: the leases of each key, every member's merged by time, go (inc, seq) by (inc, seq)
 * from (any, 1): each one is the key's record after the last (seq + 1, or 1 of a later
 * incarnation) or that record again. Again is a redelivery when its last lease failed (a nack,
 * a failed ack, or no outcome logged: the member was killed holding it), a duplicate after an
 * ack that returned 0; after a failed lease the next must be that record again. Anything else,
 * a gap, an earlier record or a failed one passed, is out of order.
 */
static void judge_key_order(struct kevs *ev, struct figures *f)
{
	uint64_t cur_inc = 0, cur_seq = 0;
	char prev = 'A';
	bool have = false;

	qsort(ev->e, ev->n, sizeof(*ev->e), cmp_kev);
	for (size_t i = 0; i < ev->n; i++) {
		const struct kev *e = &ev->e[i];
		bool failed = prev == 'N' || prev == 'F';
		bool next;

		if (i > 0 && (e->wid != ev->e[i - 1].wid || e->key != ev->e[i - 1].key))
			have = false;
		if (!have) {
			f->out_of_order_key += e->seq != 1;
		} else if (e->inc == cur_inc && e->seq == cur_seq) {
			f->redelivered_key += prev != 'A';
			f->dup_key += prev == 'A';
		} else {
			next = (e->inc == cur_inc && e->seq == cur_seq + 1) ||
			       (e->inc > cur_inc && e->seq == 1);
			f->out_of_order_key += !next || failed;
			if (e->inc < cur_inc || (e->inc == cur_inc && e->seq < cur_seq))
				continue; /* an earlier record: the key's place stays */
		}
		have = true;
		cur_inc = e->inc;
		cur_seq = e->seq;
		prev = e->outcome;
	}
}

/*
 * The group's own count of acks ties the unlogged ones down: it may exceed the logged acks
 * only by acks of killed members' last leases, and each record taken as acked unlogged must
 * be one of those; the rest are lost. An ack the group counted that nobody can have made, or
 * a logged ack it did not count, is a mismatch.
 */
static void ack_count(const struct chaos_run *run, struct figures *f)
{
	uint64_t unlogged;

	if (run->group_acked < f->acked) {
		f->ack_mismatch = f->acked - run->group_acked;
		return;
	}
	unlogged = run->group_acked - f->acked;
	if (unlogged > f->open_at_death)
		f->ack_mismatch = unlogged - f->open_at_death;
	if (f->ack_unlogged > unlogged)
		f->lost_group += f->ack_unlogged - unlogged;
}

static int read_run(const char *dir, struct chaos_run *run)
{
	char path[600];
	unsigned drained = 0;
	FILE *fp;
	int n;

	snprintf(path, sizeof(path), "%s/run.txt", dir);
	if (!(fp = fopen(path, "r")))
		return -errno;
	n = fscanf(fp,
		   "seed %" SCNu64 " faults %u kills %u stops %u joins %u leaves %u slows %u "
		   "daemon_kills %u wedges %u max_stall_ms %" SCNu64 " wedge_limit_ms %" SCNu64
		   " leaked_segments %u leaked_processes %u failures %u group_acked %" SCNu64
		   " drained %u",
		   &run->seed, &run->faults, &run->kills, &run->stops, &run->joins, &run->leaves,
		   &run->slows, &run->daemon_kills, &run->wedges, &run->max_stall_ms,
		   &run->wedge_limit_ms, &run->leaked_segments, &run->leaked_processes,
		   &run->failures, &run->group_acked, &drained);
	fclose(fp);
	run->drained = drained;
	return n == 16 ? 0 : -EBADMSG;
}

int chaos_run_write(const char *dir, const struct chaos_run *run)
{
	char path[600];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/run.txt", dir);
	if (!(fp = fopen(path, "w")))
		return -errno;
	fprintf(fp,
		"seed %" PRIu64 " faults %u kills %u stops %u joins %u leaves %u slows %u "
		"daemon_kills %u wedges %u max_stall_ms %" PRIu64 " wedge_limit_ms %" PRIu64
		" leaked_segments %u leaked_processes %u failures %u group_acked %" PRIu64
		" drained %u\n",
		run->seed, run->faults, run->kills, run->stops, run->joins, run->leaves, run->slows,
		run->daemon_kills, run->wedges, run->max_stall_ms, run->wedge_limit_ms,
		run->leaked_segments, run->leaked_processes, run->failures, run->group_acked,
		(unsigned)run->drained);
	return fclose(fp) == 0 ? 0 : -errno;
}

/* Each witness's topic: the lsub files, in the order read_file() numbers them. */
static int witness_topics(const char *dir, char **names, size_t n, bool lossy[MAX_WITNESS])
{
	unsigned w = 0;

	for (size_t i = 0; i < n; i++) {
		char path[600], head[64] = "", kind[16];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!(fp = fopen(path, "r")))
			return -errno;
		if (fgets(head, sizeof(head), fp) && sscanf(head, "H %15s", kind) == 1 &&
		    (!strcmp(kind, "wsub") || !strcmp(kind, "lsub")) && w < MAX_WITNESS)
			lossy[w++] = !strcmp(kind, "lsub");
		fclose(fp);
	}
	return 0;
}

static void report(FILE *o, const struct chaos_run *run, const struct figures *f, bool ok,
		   bool json)
{
#define REPORT_ARGS                                                                                \
	ok_s, run->seed, run->faults, run->kills, run->daemon_kills, run->stops, run->joins,       \
		run->leaves, run->slows, f->confirmed, f->delivered, f->acked, f->dead_lettered,   \
		f->keyed_confirmed, f->keyed_processed,                                            \
		f->lost_reliable + f->lost_group + f->lost_keyed, f->lost_reliable, f->lost_group, \
		f->lost_keyed, f->lost_lossy, f->ack_unlogged, run->group_acked, f->ack_mismatch,  \
		f->dup_subscriber + f->dup_ack + f->dup_key, f->redelivered, f->redelivered_key,   \
		f->dead_twice, f->unconfirmed, f->phantom, f->out_of_order, f->out_of_order_key,   \
		run->wedges, run->max_stall_ms, run->wedge_limit_ms, run->leaked_segments,         \
		run->leaked_processes, run->failures, f->requests, f->replies, f->wrong_replies,   \
		f->req_timeouts, f->req_unreachable
	const char *ok_s = json ? (ok ? "true" : "false") : (ok ? "OK" : "FAIL");

	if (json)
		fprintf(o,
			"{\"ok\": %s, \"seed\": %" PRIu64
			", \"faults\": %u, \"kills\": %u, \"daemon_kills\": %u, "
			"\"stops\": %u, \"joins\": %u, \"leaves\": %u, \"slows\": %u, "
			"\"confirmed\": %" PRIu64 ", \"delivered\": %" PRIu64
			", \"acked\": %" PRIu64 ", \"dead_lettered\": %" PRIu64
			", \"keyed_confirmed\": %" PRIu64 ", \"keyed_processed\": %" PRIu64
			", \"lost\": %" PRIu64 ", \"lost_reliable\": %" PRIu64
			", \"lost_group\": %" PRIu64 ", \"lost_keyed\": %" PRIu64
			", \"lost_lossy\": %" PRIu64 ", \"ack_unlogged\": %" PRIu64
			", \"group_acked\": %" PRIu64 ", \"ack_mismatch\": %" PRIu64
			", \"duplicates\": %" PRIu64 ", \"redelivered\": %" PRIu64
			", \"redelivered_key\": %" PRIu64 ", \"dead_twice\": %" PRIu64
			", \"unconfirmed\": %" PRIu64 ", \"phantom\": %" PRIu64
			", \"out_of_order\": %" PRIu64 ", \"out_of_order_key\": %" PRIu64
			", \"wedges\": %u, \"max_stall_ms\": %" PRIu64
			", \"wedge_limit_ms\": %" PRIu64
			", \"leaked_segments\": %u, \"leaked_processes\": %u, \"worker_failures\": "
			"%u"
			", \"requests\": %" PRIu64 ", \"replies\": %" PRIu64
			", \"wrong_replies\": %" PRIu64 ", \"req_timeouts\": %" PRIu64
			", \"req_unreachable\": %" PRIu64 "}\n",
			REPORT_ARGS);
	else
		fprintf(o,
			"chaos: %s seed %" PRIu64
			" faults %u (kills %u, shmqd kills %u, stops %u, joins %u, "
			"leaves %u, slows %u) confirmed %" PRIu64 " delivered %" PRIu64
			" acked %" PRIu64 " dead-lettered %" PRIu64 " keyed confirmed %" PRIu64
			" processed %" PRIu64 " lost %" PRIu64 " (reliable %" PRIu64
			", group %" PRIu64 ", keyed %" PRIu64 "; lossy topic %" PRIu64
			" allowed; acks unlogged by killed members %" PRIu64
			", group's ack count %" PRIu64 ", ack count mismatch %" PRIu64
			") duplicates %" PRIu64 " (redelivered after a failed lease %" PRIu64
			", keyed %" PRIu64 ", dead-lettered twice %" PRIu64
			", unconfirmed extras %" PRIu64 ", phantoms %" PRIu64
			") out of order within a producer %" PRIu64 " or a key %" PRIu64
			" wedges %u (longest stall %" PRIu64 " ms, limit %" PRIu64
			") leaked segments %u processes %u worker failures %u requests %" PRIu64
			" replies %" PRIu64 " wrong %" PRIu64 " timeouts %" PRIu64
			" unreachable %" PRIu64 "\n",
			REPORT_ARGS);
#undef REPORT_ARGS
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int chaos_check(const char *dir, const char *json)
{
	bool lossy[MAX_WITNESS] = { 0 };
	struct chaos_run run = { 0 };
	struct figures f = { 0 };
	struct tables ts = { 0 };
	char *names[4096];
	size_t n = 0;
	struct dirent *de;
	DIR *d;
	int e;
	bool ok;

	if ((e = read_run(dir, &run)) < 0 || !(d = opendir(dir))) {
		fprintf(stderr, "chaos: %s/run.txt: %s\n", dir, strerror(e < 0 ? -e : errno));
		return e < 0 ? e : -errno;
	}
	while ((de = readdir(d)) && n < 4096)
		if (de->d_name[0] == 'w' && strstr(de->d_name, ".log"))
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	memset(prods, 0, sizeof(prods));
	e = witness_topics(dir, names, n, lossy);
	for (int pass = 1; pass >= 0 && e == 0; pass--)
		for (size_t i = 0; i < n && e == 0; i++)
			e = read_file(dir, names[i], &ts, &f, pass);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	if (e == 0) {
		judge(&ts.t, &f, lossy);
		judge_keyed(&ts.kt, &f);
		judge_key_order(&ts.ev, &f);
	}
	free(ts.t.e);
	free(ts.kt.e);
	free(ts.ev.e);
	if (e < 0)
		return e;
	ack_count(&run, &f);
	ok = f.lost_reliable + f.lost_group + f.lost_keyed == 0 &&
	     f.dup_subscriber + f.dup_ack + f.dup_key == 0 && f.out_of_order == 0 &&
	     f.out_of_order_key == 0 && f.keyed_confirmed > 0 && f.phantom == 0 &&
	     f.wrong_replies == 0 && run.wedges == 0 && f.ack_mismatch == 0 &&
	     run.leaked_segments == 0 && run.leaked_processes == 0 && run.failures == 0 &&
	     run.drained && f.confirmed > 0;
	report(stdout, &run, &f, ok, false);
	if (json) {
		FILE *o = fopen(json, "w");

		if (!o)
			return -errno;
		report(o, &run, &f, ok, true);
		fclose(o);
	}
	return ok ? 0 : 1;
}
