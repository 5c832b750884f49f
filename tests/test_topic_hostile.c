// SPDX-License-Identifier: MIT
/* test_topic_hostile.c - topics on hostile shared memory: garbage before and during use. */
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "internal.h"
#include "shm_layout.h"
#include "topic_common.h"

/* ---- hostile shared memory ---- */

#define H_SLOTS 8u
#define H_MAXM 200u
#define H_TRIALS 400

static const struct shmq_topic_config hcfg_reliable = {
	.slots = H_SLOTS,
	.max_msg = H_MAXM,
	.policy = SHMQ_TOPIC_RELIABLE,
	.max_subscribers = 4,
	.max_producers = 4,
	.claim_timeout_ns = 2000000, /* 2 ms: a hole left by garbage is stepped over quickly */
};

struct hmap {
	uint8_t *base;
	size_t size;
	struct shmqi_topic *ctl;
	uint64_t subs_off, prods_off, ring_off, ring_end;
	uint32_t slot_size;
};

static struct shmq_topic_config hcfg(uint32_t policy)
{
	struct shmq_topic_config c = hcfg_reliable;

	c.policy = policy;
	return c;
}

static void scribble(uint8_t *p, size_t len, uint64_t *rnd)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)test_rand(rnd);
}

static struct hmap hmap_of(shmq_bus *bus)
{
	struct hmap m;

	m.base = test_map(bus, "h", &m.size);
	m.ctl = (struct shmqi_topic *)(m.base + SHMQI_TOPIC_BODY_OFF);
	m.subs_off = m.ctl->subs_off;
	m.prods_off = m.ctl->prods_off;
	m.ring_off = m.ctl->ring_off;
	m.slot_size = m.ctl->slot_size;
	m.ring_end = m.ring_off + (uint64_t)m.ctl->slots * m.slot_size;
	/* What every hostile test relies on: the layout it scribbles over is the one expected. */
	assert_int_equal(((struct shmqi_seg_hdr *)m.base)->body_off, SHMQI_TOPIC_BODY_OFF);
	assert_int_equal(m.ctl->slots, H_SLOTS);
	assert_true(m.slot_size >= sizeof(struct shmqi_trec) + H_MAXM && m.slot_size % 64 == 0);
	assert_true(m.subs_off >= SHMQI_TOPIC_BODY_OFF + sizeof(struct shmqi_topic));
	assert_true(m.prods_off >= m.subs_off + 4 * sizeof(struct shmqi_sub_entry));
	assert_true(m.ring_off >= m.prods_off + 4 * sizeof(struct shmqi_prod_entry));
	assert_true(m.ring_end <= m.size);
	return m;
}

static struct hmap hcreate(shmq_bus *bus, uint32_t policy)
{
	struct shmq_topic_config c = hcfg(policy);
	shmq_pub *pub;

	assert_int_equal(shmq_pub_open(bus, "h", SHMQ_OPEN_CREATE | SHMQ_OPEN_EXCL, &c, &pub), 0);
	shmq_pub_close(pub);
	return hmap_of(bus);
}

static void hdestroy(shmq_bus *bus, struct hmap *m)
{
	munmap(m->base, m->size);
	test_unlink(bus, "h");
}

/* An error this library may give for garbage, or a sane success. */
static void h_check(int r, int max_ok, const char *what)
{
	if (r >= 0 && r <= max_ok)
		return;
	switch (r) {
	case -EAGAIN:
	case -EBADMSG:
	case -EPROTO:
	case -ETIMEDOUT:
	case -EBUSY:
	case -EMSGSIZE:
	case -EUSERS:
	case -ESTALE: /* a producer's slot shows a later record; a peeked record overwritten */
		return;
	default:
		fail_msg("%s: unexpected %d (%s)", what, r, shmq_strerror(r));
	}
}

/* Receive into a heap buffer of exactly @cap bytes, so that ASan sees any overrun. */
static void h_recv(shmq_sub *sub, size_t cap)
{
	uint8_t *buf = malloc(cap ? cap : 1);
	struct shmq_sub_msg info;
	int r;

	assert_non_null(buf);
	r = shmq_sub_recv(sub, cap ? buf : NULL, cap, &info);
	h_check(r, (int)cap, "recv");
	if (r >= 0) {
		assert_int_equal(info.len, (size_t)r);
		assert_true(info.len <= H_MAXM);
	}
	free(buf);
}

static void h_recv_many(shmq_sub *sub)
{
	struct shmq_sub_rmsg rm[3];
	int r;

	for (int i = 0; i < 3; i++) {
		rm[i].cap = (size_t)(40 * (i + 1));
		rm[i].buf = malloc(rm[i].cap);
		assert_non_null(rm[i].buf);
	}
	r = shmq_sub_recv_many(sub, rm, 3);
	h_check(r, 3, "recv_many");
	for (int i = 0; i < r; i++)
		assert_true(rm[i].info.len <= rm[i].cap);
	for (int i = 0; i < 3; i++)
		free(rm[i].buf);
}

static void h_publish(shmq_pub *pub)
{
	struct shmq_pub_msg m[3] = { { "abc", 3, 1 }, { NULL, 0, 2 }, { "defgh", 5, 3 } };
	uint8_t data[H_MAXM] = { 0 };
	void *zc;
	int r;

	h_check(shmq_pub_send(pub, data, 40, 9), 0, "send");
	h_check(shmq_pub_send(pub, data, H_MAXM, 9), 0, "send max");
	h_check(shmq_pub_send_many(pub, m, 3), 3, "send_many");
	r = shmq_pub_claim(pub, 24, &zc);
	h_check(r, 0, "claim");
	if (r == 0) {
		memset(zc, 0x5a, 24);
		assert_int_equal(shmq_pub_commit(pub, 24, 1), 0);
	}
	r = shmq_pub_claim(pub, 8, &zc);
	h_check(r, 0, "claim");
	if (r == 0)
		assert_int_equal(shmq_pub_abort(pub), 0);
}

static void h_stat(shmq_bus *bus)
{
	struct shmq_topic_sub_info *subs = malloc(2 * sizeof(*subs));
	struct shmq_topic_stats st;
	int r;

	assert_non_null(subs);
	r = shmq_topic_stat(bus, "h", &st, subs, 2);
	h_check(r, SHMQ_TOPIC_MAX_SUBSCRIBERS, "stat");
	free(subs);
}

/* Zero-copy: whatever a peek says the record holds must lie in the mapping (read it all). */
static void h_peek(shmq_sub *sub)
{
	struct shmq_sub_msg info;
	const uint8_t *data;
	unsigned sum = 0;
	int r;

	for (int i = 0; i < 2; i++) {
		r = shmq_sub_peek(sub, (const void **)&data, &info);
		h_check(r, H_MAXM, "peek");
		for (int k = 0; k < r; k++)
			sum += data[k];
	}
	h_check(shmq_sub_release(sub), 2, "release");
	assert_true(sum < 256u * H_MAXM * 2);
}

static void h_exercise_sub(shmq_sub *sub)
{
	struct shmq_sub_stats ss;

	for (int i = 0; i < 4; i++)
		h_recv(sub, i % 2 ? H_MAXM : 16);
	h_recv_many(sub);
	h_recv(sub, 0);
	h_peek(sub);
	assert_int_equal(shmq_sub_stats(sub, &ss), 0);
}

/* Whatever opens on the garbage, every call on it is an error or sane. */
static void h_exercise(shmq_bus *bus, uint32_t policy)
{
	struct shmq_topic_config c = hcfg(policy);
	shmq_pub *pub = NULL;
	shmq_sub *sub = NULL, *sub2 = NULL;
	int r;

	h_stat(bus);
	r = shmq_sub_open(bus, "h", SHMQ_SUB_EARLIEST, &c, 0, &sub);
	h_check(r, 0, "sub_open");
	r = shmq_sub_open(bus, "h", SHMQ_SUB_FROM_SEQ, &c, 3, &sub2);
	h_check(r, 0, "sub_open from");
	r = shmq_pub_open(bus, "h", 0, &c, &pub);
	h_check(r, 0, "pub_open");
	if (pub)
		h_publish(pub);
	if (sub)
		h_exercise_sub(sub);
	if (sub2)
		h_exercise_sub(sub2);
	shmq_pub_close(pub);
	shmq_sub_close(sub);
	shmq_sub_close(sub2);
}

/*
 * A call on garbage that never returns is a failure of its own, not a stuck test run: each
 * trial runs under alarm(), and SIGALRM jumps back here to report which trial hung. (The
 * handles of that trial are leaked; the group teardown removes the segment.)
 */
#define HANG_S 10

typedef void (*trial_fn)(shmq_bus *bus, int t, uint64_t *rnd);

static sigjmp_buf hang_jmp;

static void hang_alarm(int sig)
{
	(void)sig;
	siglongjmp(hang_jmp, 1);
}

static void guarded_trials(const char *what, trial_fn fn, int trials, uint64_t seed)
{
	shmq_bus *bus = test_bus();
	uint64_t rnd = seed;
	volatile int t;

	signal(SIGALRM, hang_alarm);
	for (t = 0; t < trials; t++) {
		if (sigsetjmp(hang_jmp, 1)) {
			signal(SIGALRM, SIG_DFL);
			fail_msg("%s: trial %d did not return within %d s (a call loops)", what, t,
				 HANG_S);
		}
		alarm(HANG_S);
		fn(bus, t, &rnd);
		alarm(0);
	}
	signal(SIGALRM, SIG_DFL);
	shmq_bus_close(bus);
}

/* Garbage over the segment header and control block (or the block alone): nothing opens. */
static void control_random_one(shmq_bus *bus, int t, uint64_t *rnd)
{
	struct hmap m = hcreate(bus, (uint32_t)t % 2);
	struct shmq_topic_stats st;
	shmq_pub *pub = NULL;
	shmq_sub *sub = NULL;

	if (t % 2)
		scribble(m.base + SHMQI_TOPIC_BODY_OFF, sizeof(struct shmqi_topic), rnd);
	else
		scribble(m.base, SHMQI_TOPIC_BODY_OFF + sizeof(struct shmqi_topic), rnd);
	if (atomic_load(&((struct shmqi_seg_hdr *)m.base)->layout) == 0)
		atomic_store(&((struct shmqi_seg_hdr *)m.base)->layout, 2); /* no 2 s wait */
	assert_true(shmq_pub_open(bus, "h", 0, NULL, &pub) < 0);
	assert_true(shmq_sub_open(bus, "h", SHMQ_SUB_EARLIEST, NULL, 0, &sub) < 0);
	assert_true(shmq_topic_stat(bus, "h", &st, NULL, 0) < 0);
	assert_null(pub);
	assert_null(sub);
	hdestroy(bus, &m);
}

static void test_hostile_control_random(void **state)
{
	guarded_trials("control_random", control_random_one, H_TRIALS, 0x1234);
}

/* Each field of the control block set to an extreme value. */
struct poke {
	uint32_t off, width;
	uint64_t value; /* for offsets: added to the segment size when ABOVE_SIZE */
	bool must_fail;
	bool above_size;
};

#define CTL(f) ((uint32_t)offsetof(struct shmqi_topic, f))

static const struct poke pokes[] = {
	{ CTL(slots), 4, 0, true, false },
	{ CTL(slots), 4, 1, true, false },
	{ CTL(slots), 4, 3, true, false },
	{ CTL(slots), 4, 16, true, false }, /* ring past the end */
	{ CTL(slots), 4, 4, true, false }, /* ring shorter than the segment */
	{ CTL(slots), 4, 1u << 31, true, false },
	{ CTL(slots), 4, 0xffffffffu, true, false },
	{ CTL(slot_size), 4, 0, true, false },
	{ CTL(slot_size), 4, 48, true, false },
	{ CTL(slot_size), 4, 100, true, false },
	{ CTL(slot_size), 4, 128, true, false }, /* smaller than header + max_msg */
	{ CTL(slot_size), 4, 0xffffffc0u, true, false },
	{ CTL(max_msg), 4, 0xffffffffu, true, false },
	{ CTL(max_msg), 4, 256 - 48 + 1, true, false },
	{ CTL(max_msg), 4, (1u << 30) + 1, true, false },
	{ CTL(policy), 4, 2, true, false },
	{ CTL(policy), 4, 0xffffffffu, true, false },
	{ CTL(max_subs), 4, 0, true, false },
	{ CTL(max_subs), 4, 257, true, false },
	{ CTL(max_subs), 4, 0xffffffffu, true, false },
	{ CTL(max_prods), 4, 0, true, false },
	{ CTL(max_prods), 4, 257, true, false },
	{ CTL(max_prods), 4, 0xffffffffu, true, false },
	{ CTL(subs_off), 8, 0, true, false },
	{ CTL(subs_off), 8, 1, true, false },
	{ CTL(subs_off), 8, 0, true, true },
	{ CTL(subs_off), 8, (uint64_t)-128, true, true },
	{ CTL(subs_off), 8, UINT64_MAX, true, false },
	{ CTL(subs_off), 8, UINT64_MAX - 127, true, false },
	{ CTL(prods_off), 8, 0, true, false },
	{ CTL(prods_off), 8, 3, true, false },
	{ CTL(prods_off), 8, 0, true, true },
	{ CTL(prods_off), 8, UINT64_MAX, true, false },
	{ CTL(prods_off), 8, UINT64_MAX - 127, true, false },
	{ CTL(ring_off), 8, 0, true, false },
	{ CTL(ring_off), 8, 64, true, false },
	{ CTL(ring_off), 8, 0, true, true },
	{ CTL(ring_off), 8, 4096, true, true },
	{ CTL(ring_off), 8, UINT64_MAX, true, false },
	{ CTL(ring_off), 8, UINT64_MAX - 4095, true, false },
	{ CTL(claim_timeout_ns), 8, 0, false, false },
	{ CTL(claim_timeout_ns), 8, UINT64_MAX, false, false },
	{ CTL(next_producer_id), 4, 0xffffffffu, false, false },
	{ CTL(next_producer_id), 4, 0xfffffffeu, false, false },
	{ CTL(skipped), 8, UINT64_MAX, false, false },
	{ CTL(tail), 8, 0, false, false },
	{ CTL(tail), 8, 2, false, false },
	{ CTL(tail), 8, 1000, false, false },
	{ CTL(tail), 8, SHMQI_SEQ_MAX - 2, false, false },
	{ CTL(tail), 8, SHMQI_SEQ_MAX, false, false },
	{ CTL(tail), 8, 1ull << 63, false, false },
	{ CTL(tail), 8, UINT64_MAX - 3, false, false },
	{ CTL(tail), 8, UINT64_MAX, false, false },
};

static void apply_poke(struct hmap *m, const struct poke *p)
{
	uint8_t *at = (uint8_t *)m->ctl + p->off;
	uint64_t v = p->above_size ? m->size + p->value : p->value;
	uint32_t v32 = (uint32_t)v;

	if (p->width == 4)
		memcpy(at, &v32, 4);
	else
		memcpy(at, &v, 8);
}

static void expect_proto(shmq_bus *bus, const struct shmq_topic_config *c, size_t i)
{
	struct shmq_topic_stats st;
	shmq_pub *pub = NULL;
	shmq_sub *sub = NULL;
	int r[3];

	r[0] = shmq_pub_open(bus, "h", 0, c, &pub);
	r[1] = shmq_sub_open(bus, "h", SHMQ_SUB_EARLIEST, c, 0, &sub);
	r[2] = shmq_topic_stat(bus, "h", &st, NULL, 0);
	if (r[0] != -EPROTO || r[1] != -EPROTO || r[2] != -EPROTO)
		fail_msg("poke %zu (off %u = %llu): pub_open %d, sub_open %d, stat %d, not -EPROTO",
			 i, pokes[i].off, (unsigned long long)pokes[i].value, r[0], r[1], r[2]);
}

/* Trial t: poke t / 2 under policy t % 2. */
static void fields_one(shmq_bus *bus, int t, uint64_t *rnd)
{
	uint32_t policy = (uint32_t)t % 2;
	size_t i = (size_t)t / 2;
	struct shmq_topic_config c = hcfg(policy);
	shmq_pub *pub;
	shmq_sub *sub;
	struct hmap m;

	(void)rnd;
	/* Attach after the damage: refused where the layout is impossible. */
	m = hcreate(bus, policy);
	apply_poke(&m, &pokes[i]);
	if (pokes[i].must_fail)
		expect_proto(bus, NULL, i);
	h_exercise(bus, policy);
	hdestroy(bus, &m);
	/* Attached before the damage: whatever the handles do, no crash. */
	m = hcreate(bus, policy);
	assert_int_equal(shmq_pub_open(bus, "h", 0, &c, &pub), 0);
	assert_int_equal(shmq_sub_open(bus, "h", SHMQ_SUB_EARLIEST, &c, 0, &sub), 0);
	h_publish(pub);
	apply_poke(&m, &pokes[i]);
	h_publish(pub);
	h_exercise_sub(sub);
	h_exercise(bus, policy);
	shmq_pub_close(pub);
	shmq_sub_close(sub);
	hdestroy(bus, &m);
}

static void test_hostile_fields(void **state)
{
	guarded_trials("fields", fields_one, (int)(2 * sizeof(pokes) / sizeof(pokes[0])), 0);
}

/* A few random bytes anywhere before the ring's end, with nobody attached. */
static void partial_one(shmq_bus *bus, int t, uint64_t *rnd)
{
	uint32_t policy = (uint32_t)t % 2;
	struct shmq_topic_config c = hcfg(policy);
	struct hmap m = hcreate(bus, policy);
	uint64_t off, len;
	shmq_pub *pub;

	assert_int_equal(shmq_pub_open(bus, "h", 0, &c, &pub), 0);
	for (int i = 0; i < t % 11; i++)
		assert_int_equal(shmq_pub_send(pub, "0123456789", 10, 0), 0);
	shmq_pub_close(pub);
	off = test_rand(rnd) % m.ring_end;
	len = 1 + test_rand(rnd) % 16;
	if (off + len > m.ring_end)
		len = m.ring_end - off;
	if (off < 12 && off + len > 8) /* keep the layout word: no 2 s wait */
		off = 12;
	scribble(m.base + off, (size_t)len, rnd);
	h_exercise(bus, policy);
	hdestroy(bus, &m);
}

static void test_hostile_partial(void **state)
{
	guarded_trials("partial", partial_one, H_TRIALS, 0x5678);
}

/* Garbage over the tables, the ring or the hot words while producers and subscribers run. */
static void hostile_live_one(shmq_bus *bus, int t, uint64_t *rnd)
{
	uint32_t policy = (uint32_t)t % 2;
	struct shmq_topic_config c = hcfg(policy);
	struct hmap m = hcreate(bus, policy);
	shmq_pub *pub;
	shmq_sub *sub, *lag;
	uint64_t off, len;

	assert_int_equal(shmq_pub_open(bus, "h", 0, &c, &pub), 0);
	assert_int_equal(shmq_sub_open(bus, "h", 0, &c, 0, &sub), 0);
	assert_int_equal(shmq_sub_open(bus, "h", 0, &c, 0, &lag), 0);
	for (int i = 0; i < 1 + t % 7; i++) {
		assert_int_equal(shmq_pub_send(pub, "abcdefgh", 8, 1), 0);
		assert_int_equal(shmq_sub_recv(sub, NULL, 0, NULL), -EMSGSIZE);
		assert_int_equal(shmq_sub_recv(sub, (char[8]){ 0 }, 8, NULL), 8);
	}
	switch (t % 5) {
	case 0: /* the subscriber table */
		off = m.subs_off;
		len = 4 * sizeof(struct shmqi_sub_entry);
		break;
	case 1: /* the producer table */
		off = m.prods_off;
		len = 4 * sizeof(struct shmqi_prod_entry);
		break;
	case 2: /* every slot */
		off = m.ring_off;
		len = m.ring_end - m.ring_off;
		break;
	case 3: /* the record headers only */
		for (uint32_t i = 0; i < H_SLOTS; i++)
			scribble(m.base + m.ring_off + (uint64_t)i * m.slot_size,
				 sizeof(struct shmqi_trec), rnd);
		off = m.ring_off;
		len = 0;
		break;
	default: /* the hot words of the control block */
		off = SHMQI_TOPIC_BODY_OFF + CTL(next_producer_id);
		len = sizeof(struct shmqi_topic) - CTL(next_producer_id);
		break;
	}
	scribble(m.base + off, (size_t)len, rnd);
	for (int i = 0; i < 3; i++) {
		h_publish(pub);
		h_exercise_sub(sub);
		h_exercise_sub(lag);
	}
	h_exercise(bus, policy);
	shmq_pub_close(pub);
	shmq_sub_close(sub);
	shmq_sub_close(lag);
	hdestroy(bus, &m);
}

static void test_hostile_live(void **state)
{
	guarded_trials("live", hostile_live_one, H_TRIALS, 0x9abc);
}

/* A committed record that lies about itself: -EBADMSG, counted as lost, then the next one. */
static void lie_one(shmq_bus *bus, uint32_t policy, int lie)
{
	struct shmq_topic_config c = hcfg(policy);
	struct hmap m = hcreate(bus, policy);
	struct shmq_sub_stats ss;
	struct shmq_sub_msg info;
	struct shmqi_trec *rec;
	uint8_t buf[H_MAXM];
	shmq_pub *pub;
	shmq_sub *sub;

	assert_int_equal(shmq_pub_open(bus, "h", 0, &c, &pub), 0);
	assert_int_equal(shmq_sub_open(bus, "h", 0, &c, 0, &sub), 0);
	assert_int_equal(shmq_pub_send(pub, "first", 5, 1), 0);
	assert_int_equal(shmq_pub_send(pub, "second", 6, 2), 0);
	rec = (struct shmqi_trec *)(m.base + m.ring_off + 1 * m.slot_size); /* seq 1 */
	assert_int_equal(atomic_load(&rec->stamp), SHMQI_STAMP(1, SHMQI_STAMP_COMMITTED));
	switch (lie) {
	case 0:
		rec->len = H_MAXM + 1;
		break;
	case 1:
		rec->len = 0xffffffffu;
		break;
	case 2:
		rec->len = (uint32_t)m.slot_size;
		break;
	default:
		rec->flags = 1u << (lie - 3);
		break;
	}
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), -EBADMSG);
	assert_int_equal(shmq_sub_recv(sub, buf, sizeof(buf), &info), 6);
	assert_int_equal(info.seq, 2);
	assert_memory_equal(buf, "second", 6);
	ss = sub_stats(sub);
	assert_int_equal(ss.lost, 1);
	assert_int_equal(ss.received, 1);
	assert_int_equal(ss.cursor, 3);
	shmq_pub_close(pub);
	shmq_sub_close(sub);
	hdestroy(bus, &m);
}

/* Stamps that no producer could have written: an error or sane, never a crash. */
static void stamp_one(shmq_bus *bus, uint32_t policy, uint64_t stamp, bool at_second)
{
	struct shmq_topic_config c = hcfg(policy);
	struct hmap m = hcreate(bus, policy);
	struct shmqi_trec *rec;
	shmq_pub *pub;
	shmq_sub *sub;

	assert_int_equal(shmq_pub_open(bus, "h", 0, &c, &pub), 0);
	assert_int_equal(shmq_sub_open(bus, "h", 0, &c, 0, &sub), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(shmq_pub_send(pub, "abc", 3, 0), 0);
	rec = (struct shmqi_trec *)(m.base + m.ring_off + (at_second ? 2 : 1) * m.slot_size);
	atomic_store(&rec->stamp, stamp);
	for (int i = 0; i < 6; i++) {
		h_exercise_sub(sub);
		h_publish(pub);
		usleep(1000); /* past the 2 ms claim timeout, eventually */
	}
	h_exercise(bus, policy);
	shmq_pub_close(pub);
	shmq_sub_close(sub);
	hdestroy(bus, &m);
}

static const uint64_t odd_stamps[] = {
	SHMQI_STAMP(1, 0),
	SHMQI_STAMP(1, SHMQI_STAMP_WRITING),
	SHMQI_STAMP(1, SHMQI_STAMP_SKIPPED),
	SHMQI_STAMP(1 + H_SLOTS, SHMQI_STAMP_COMMITTED),
	SHMQI_STAMP(1 + 1000 * H_SLOTS, SHMQI_STAMP_COMMITTED),
	SHMQI_STAMP(1 + 1000 * H_SLOTS, SHMQI_STAMP_WRITING),
	SHMQI_STAMP(SHMQI_SEQ_MAX - H_SLOTS + 1, SHMQI_STAMP_COMMITTED),
	SHMQI_STAMP(SHMQI_SEQ_MAX + 1, SHMQI_STAMP_COMMITTED),
	UINT64_MAX,
	UINT64_MAX - 1,
	0,
	SHMQI_STAMP(9, SHMQI_STAMP_COMMITTED), /* a lap ahead of seq 1 */
};

#define N_LIES (3 + 32)
#define N_STAMPS ((int)(sizeof(odd_stamps) / sizeof(odd_stamps[0])))

/* Trials: every lie, then every odd stamp at seq 1 and at seq 2, under both policies. */
static void records_one(shmq_bus *bus, int t, uint64_t *rnd)
{
	uint32_t policy = (uint32_t)t % 2;
	int k = t / 2;

	(void)rnd;
	if (k < N_LIES)
		lie_one(bus, policy, k);
	else
		stamp_one(bus, policy, odd_stamps[(k - N_LIES) / 2], (k - N_LIES) % 2);
}

static void test_hostile_records(void **state)
{
	guarded_trials("records", records_one, 2 * (N_LIES + 2 * N_STAMPS), 0);
}

/*
 * A live producer mid-write (an outstanding claim) is never overwritten, not even by the
 * producer that finds a later record of the same slot abandoned: that one times out.
 */
static void test_live_writer_not_overwritten(void **state)
{
	const struct shmq_topic_config cfg = {
		.slots = 2, .max_msg = 64, .policy = SHMQ_TOPIC_LOSSY, .claim_timeout_ns = 20000000
	};
	shmq_bus *bus = test_bus();
	struct shmq_sub_msg mi;
	shmq_pub *q, *p;
	shmq_sub *sub;
	char rb[64];
	void *buf;

	assert_int_equal(shmq_pub_open(bus, "live", SHMQ_OPEN_CREATE, &cfg, &q), 0);
	assert_int_equal(shmq_pub_open(bus, "live", 0, &cfg, &p), 0);
	assert_int_equal(shmq_pub_send(q, "a", 1, 0), 0); /* 1 */
	assert_int_equal(shmq_pub_send(q, "b", 1, 0), 0); /* 2 */
	assert_int_equal(shmq_pub_claim(q, 8, &buf), 0); /* 3: WRITING in slot 1 */
	assert_int_equal(shmq_pub_send(p, "c", 1, 0), 0); /* 4 */
	assert_int_equal(shmq_pub_send(p, "d", 1, 0), -ETIMEDOUT); /* 5: behind live 3 */
	assert_int_equal(shmq_pub_send(p, "e", 1, 0), 0); /* 6 */
	assert_int_equal(shmq_pub_send(p, "XXXXXXX", 8, 0), -ETIMEDOUT); /* 7: slot of 3 */
	assert_memory_not_equal(buf, "XXXXXXX", 7); /* nobody wrote into Q's record */
	memcpy(buf, "QQQQQQQ", 8);
	assert_int_equal(shmq_pub_commit(q, 8, 0), 0);
	/* The log retains 6 and 7 only; 7 was abandoned and is skipped once it times out. */
	assert_int_equal(shmq_sub_open(bus, "live", SHMQ_SUB_EARLIEST, &cfg, 0, &sub), 0);
	assert_int_equal(shmq_sub_recv(sub, rb, sizeof(rb), &mi), 1);
	assert_int_equal(mi.seq, 6);
	assert_int_equal(shmq_sub_wait(sub, 0, 5000000000ull), -ETIMEDOUT); /* nothing after */
	shmq_sub_close(sub);
	shmq_pub_close(p);
	shmq_pub_close(q);
	test_unlink(bus, "live");
	shmq_bus_close(bus);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_writer_not_overwritten),
		cmocka_unit_test(test_hostile_control_random),
		cmocka_unit_test(test_hostile_fields),
		cmocka_unit_test(test_hostile_partial),
		cmocka_unit_test(test_hostile_records),
		cmocka_unit_test(test_hostile_live),
	};

	if (argc > 1) /* a test name pattern, to run one test while debugging */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("topic-hostile", tests, NULL, test_cleanup);
}
