/* SPDX-License-Identifier: MIT */
/* internal.h - declarations shared between libshmq's files (shmqi_ prefix), never installed. */
#ifndef SHMQ_INTERNAL_H
#define SHMQ_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmq.h"

/* "/shmq." + namespace + "." + name + NUL */
#define SHMQI_PATH_MAX (6 + SHMQ_NAMESPACE_MAX + 1 + SHMQ_NAME_MAX + 1)

struct shmq_bus {
	char ns[SHMQ_NAMESPACE_MAX + 1];
};

/*
 * error.c: the detail text shmq_last_detail() reads, one per thread. A call that can fill
 * it clears it first, and fills it when it fails for a reason worth naming.
 */
#define SHMQI_DETAIL_MAX 256
void shmqi_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void shmqi_detail_clear(void);
/* Keep the detail a caller's earlier failure left, across internal calls that fill it. */
void shmqi_detail_save(char buf[SHMQI_DETAIL_MAX]);
void shmqi_detail_restore(const char buf[SHMQI_DETAIL_MAX]);
/* Does a non-zero @asked differ from @has? If so, the detail says "slots: topic has 4, asked 8". */
bool shmqi_cfg_differs(const char *kind, const char *field, uint64_t has, uint64_t asked);

/* util.c; the checks fill the detail with what is wrong */
/* @what names it in the detail: "namespace", "namespace from $SHMQ_NAMESPACE" */
bool shmqi_valid_namespace(const char *ns, const char *what);
bool shmqi_valid_name(const char *name);
int shmqi_seg_path(const shmq_bus *bus, const char *name, char *buf, size_t buf_len);
/* Where glibc's shm_open() puts "/shmq.NS.NAME". */
#define SHMQI_SHM_DIR "/dev/shm"
/*
 * The file of object @name (any name: "TOPIC@GROUP", "TOPIC~lat" too) in SHMQI_SHM_DIR, for
 * stat(), chown() and the like; unchecked, and cut to @buf_len.
 */
void shmqi_seg_file(const shmq_bus *bus, const char *name, char *buf, size_t buf_len);
uint64_t shmqi_now_ns(void); /* CLOCK_MONOTONIC, from the TSC where it can (clock.c) */
/*
 * clock_gettime(CLOCK_MONOTONIC) itself: the clock of deadlines. shmqi_now_ns() may lead it
 * by up to a piece's span, or hold still while a piece is renewed, and a timeout judged on
 * it could end before the caller's own clock says it has passed.
 */
uint64_t shmqi_mono_ns(void);
uint64_t shmqi_wall_ns(void); /* CLOCK_REALTIME */

/*
 * service.c: is @name a requester's inbox ("_INBOX.PIDNS.PID.START.N") whose process, of our
 * pid namespace, is gone? (shmqd removes those, as the next requester does without it.)
 */
bool shmqi_inbox_orphaned(const char *name);

/*
 * topic.c: how many topics of a series there are (a priority topic's levels, a partitioned
 * topic's partitions): @fn names member @k of series @name; the count stops at the first that
 * does not exist, or at @max. Return: the count, or -errno (a bad name, a stat's error).
 */
typedef int (*shmqi_series_name_fn)(const char *name, unsigned k, char out[SHMQ_NAME_MAX + 1]);
int shmqi_count_series(shmq_bus *bus, const char *name, unsigned max, shmqi_series_name_fn fn);

/*
 * topic_pub.c: shmq_pub_send_hdrs() for a block this library built itself (1 to
 * SHMQ_HDRS_MAX bytes, well formed): not parsed again.
 */
int shmqi_pub_send_built(shmq_pub *pub, const void *hdrs, size_t hdrs_len, const void *data,
			 size_t len, uint64_t corr_id);

/*
 * topic_sub.c: a subscriber's waits go on past every close so far, as past the one it found
 * at its join (service.c's inboxes: their producers come and go).
 */
void shmqi_sub_forget_closes(shmq_sub *sub);
/* group.c: the same for a group member (service.c's responders: requesters come and go). */
void shmqi_group_forget_closes(shmq_group *g);

/*
 * headers.c: the headers of the record a handle delivered last, for shmq_sub_headers() and
 * shmq_group_headers(): in place after a peek, a copy (in @buf, SHMQ_HDRS_MAX bytes made at
 * the first) after a copying receive. @len 0 for none.
 */
struct shmqi_held {
	uint8_t *buf;
	const void *ptr;
	uint32_t len;
};
int shmqi_held_copy(struct shmqi_held *h, const void *src, uint32_t len); /* 0, -ENOMEM */
static inline void shmqi_held_point(struct shmqi_held *h, const void *src, uint32_t len)
{
	h->ptr = src;
	h->len = len;
}
int shmqi_held_get(const struct shmqi_held *h, const void **ret_hdrs, size_t *ret_len);
/* A time header's value (shmq_hdrs_time()), 0 when there is none or it is not a number. */
uint64_t shmqi_hdrs_when(const void *hdrs, size_t len, const char *key);
/*
 * A checked block's entries but its time headers, into @out (SHMQ_HDRS_MAX bytes): what a
 * dead letter keeps (its own header says why it died; it must neither expire nor wait).
 * Return: the new block's length.
 */
size_t shmqi_hdrs_untimed(const void *hdrs, size_t len, uint8_t *out);

/*
 * pattern.c: a checked pattern, split into tokens once (shmq/pattern.h). At most 100 tokens
 * fit in 200 characters; a topic has as many at most.
 */
#define SHMQI_TOKENS_MAX (SHMQ_PATTERN_MAX / 2 + 1)
struct shmqi_pattern {
	char text[SHMQ_PATTERN_MAX + 1];
	uint8_t n;
	uint8_t off[SHMQI_TOKENS_MAX], len[SHMQI_TOKENS_MAX];
};
/* Check @pattern (the detail says what is wrong) and split it. Return: 0 or -EINVAL. */
int shmqi_pattern_compile(const char *pattern, struct shmqi_pattern *ret_pat);
/* Does @topic, which shmqi_valid_name() accepted (or a '$' and such a name), match? */
bool shmqi_pattern_matches(const struct shmqi_pattern *pat, const char *topic);

/*
 * inspect.c: look at one object as shmq_bus_list() looks at each (its header read, never
 * mapped or waited for). Return: 0 when this library can open it, else @o->error.
 */
int shmqi_object_look(const shmq_bus *bus, const char *name, struct shmq_object_info *o);

/* owner.c: process liveness */
bool shmqi_pid_alive(pid_t pid);
/* A process's start time (clock ticks since boot, /proc/PID/stat field 22); 0 if unknown. */
uint64_t shmqi_proc_start(pid_t pid);
/* The inode of /proc/self/ns/pid, which names this process's pid namespace; 0 if unknown. */
uint64_t shmqi_pidns(void);
/*
 * Is the process that recorded (@pid, @start, @pidns) still alive? @start and @pidns may
 * be 0 (unknown). A process of another pid namespace cannot be judged: it counts as alive.
 */
bool shmqi_owner_alive(pid_t pid, uint64_t start, uint64_t pidns);

/*
 * A role or table entry's owner in shared memory (struct shmqi_owner, shm_layout.h): the
 * channels' producer and consumer roles, the topics' subscriber and producer tables.
 *
 * O1: an owner changes in two steps, both CASes of the head word. shmqi_entry_grab() takes
 * the head the caller judged (a free one, a dead owner's, or its own) to our negated pid
 * and the next generation: from then on nobody judges the entry by the old owner's fields,
 * and nobody else takes it unless it finds us dead. shmqi_entry_set() fills or clears the
 * fields after a release fence and CASes the head to the final pid (seq_cst); it fails,
 * and the caller holds nothing, if somebody took the entry from us meanwhile.
 * shmqi_entry_alive() reads the fields, then an acquire fence, then the head again: fields
 * it read from a later owner show as a changed head (fence-to-fence with the release fence
 * of set). Both fields carry the generation they were written for: fields a taker stored
 * before it lost its final CAS do not match the head, and the owner is judged by its pid
 * alone. Every head load that precedes a judgement is an acquire.
 *
 * A handle keeps the head its set produced, and gives the entry up by a grab from exactly
 * that head: if the entry was taken from it meanwhile, even by another handle of the same
 * process, it touches nothing. A forked child's copy of a handle gives up nothing.
 */
struct shmqi_owner;
static inline int32_t shmqi_head_pid(uint64_t head)
{
	return (int32_t)(uint32_t)head;
}
/* A head word, and a pidns word written for a head of generation @gen (tests poke these). */
uint64_t shmqi_owner_head(int32_t pid, uint32_t gen, uint64_t pidns);
uint64_t shmqi_owner_ns_word(uint32_t gen, uint64_t pidns);
uint64_t shmqi_owner_start_word(uint32_t gen, uint64_t start);
/*
 * Is the owner of @head (loaded with acquire from @o) alive? A pid of another namespace
 * counts as alive; a negated pid is judged by its pid alone. If the head changed while the
 * fields were read, true: the caller loads it again.
 */
bool shmqi_entry_alive(const struct shmqi_owner *o, uint64_t head);
/* Test hook: called in shmqi_entry_alive() between reading the fields and the head again. */
extern void (*shmqi_owner_test_hook)(struct shmqi_owner *o);
/* Take @o from *@head to our negated pid; on success *@head is the new head. */
bool shmqi_entry_grab(struct shmqi_owner *o, uint64_t *head, int32_t me);
/* Finish a grab: the fields, then the head to @pid (0: free); false if taken from us. */
bool shmqi_entry_set(struct shmqi_owner *o, uint64_t *head, int32_t pid, uint64_t start,
		     uint64_t pidns);

/*
 * owner.c: the only place that takes, gives up, judges and scans owner entries (O1). A table
 * is @n entries @stride bytes apart, each starting with its struct shmqi_owner.
 *
 * shmqi_owner_take() takes a free entry, else one whose owner is dead; -EUSERS when every
 * entry is held by a live process. shmqi_owner_take_one() takes one role entry: free or a
 * dead owner's, -EBUSY when a live process holds it. Both give the head their take left.
 */
int shmqi_owner_take(void *table, size_t stride, uint32_t n, int32_t me, uint64_t start,
		     uint64_t *ret_head, uint32_t *ret_i);
int shmqi_owner_take_one(struct shmqi_owner *o, int32_t me, uint64_t start, uint64_t *ret_head);
/*
 * Free entry @o if its head is still @head (ours, or a dead owner's that we judged): grab it,
 * call @clear(@ctx, @arg) (may be NULL) while it is still ours (only a judge that took us for
 * dead could have taken it meanwhile), then give it back. False if the head was another.
 */
typedef void (*shmqi_owner_clear_fn)(void *ctx, void *arg);
bool shmqi_owner_free(struct shmqi_owner *o, uint64_t head, int32_t me, shmqi_owner_clear_fn clear,
		      void *ctx, void *arg);
/*
 * Free entry @o of an owner judged dead, if its head is still @dead, in one CAS to a free
 * head (the next generation): for entries that need nothing cleared while held. Unlike
 * shmqi_owner_free() it never shows a live pid of ours, so no scan counts the freer as an
 * owner meanwhile. The dead owner's fields stay: a free head (pid 0) is never judged by
 * them, and a taker writes its own for a generation of its own (O1).
 */
bool shmqi_owner_free_dead(struct shmqi_owner *o, uint64_t dead);
/*
 * Visit the entries whose owner is alive (@live) or dead (!@live), free ones never: @visit
 * (may be NULL) says whether to count the entry. Return: the count.
 */
typedef bool (*shmqi_owner_visit_fn)(void *arg, uint32_t i, uint64_t head);
uint32_t shmqi_owner_scan(void *table, size_t stride, uint32_t n, bool live,
			  shmqi_owner_visit_fn visit, void *arg);

/* segment.c: one named POSIX shared-memory segment with a published header. */
struct shmqi_seg {
	uint8_t *base;
	size_t size;
	bool created; /* this call created it */
};

/* Called by the creator, before the header is published, to lay out the body. */
typedef int (*shmqi_seg_init_fn)(struct shmqi_seg *seg, void *arg);

#define SHMQI_SEG_CREATE 0x1u
#define SHMQI_SEG_EXCL 0x2u
#define SHMQI_SEG_RDONLY 0x4u /* attach only, read-only: for looking, never writing */

/* What a kind (enum shmqi_kind) is called ("channel", ...), NULL for none we know. */
const char *shmqi_kind_name(uint32_t kind);
/* The layout version of @kind's body this library speaks (SHMQI_*_LAYOUT), 0 for none. */
uint32_t shmqi_kind_layout(uint32_t kind);

/*
 * shmqi_seg_open() - create or attach a segment at @path of @kind. The header's layout
 * version and @kind's (seg_hdr.kind_layout) must be this library's, else -EPROTO.
 * @size is the size a creator gives it (ignored when attaching: the file's size is
 * checked against the header). @init writes a new segment's body; it may be NULL when
 * @flags has no SHMQI_SEG_CREATE. Released with shmqi_seg_close().
 */
int shmqi_seg_open(const char *path, uint32_t kind, size_t size, unsigned mode, unsigned flags,
		   shmqi_seg_init_fn init, void *init_arg, struct shmqi_seg *ret_seg);
void shmqi_seg_close(struct shmqi_seg *seg);

/*
 * Test hook (topic.c): when set, a producer calls it between claiming a record and
 * committing it: @phase 0 right after the claim, 1 once the slot is marked as being
 * written; and @phase 2 in a biased producer's claim, between its check of the bias and its
 * store of the tail (B1 in topic_pub.c). The crash tests stop or kill a producer there. Never set outside tests.
 */
extern void (*shmqi_topic_test_hook)(int phase, uint64_t seq);
/* Does @pub hold its topic's bias (B1 in topic_pub.c: it claims by a plain store)? Tests. */
bool shmqi_pub_biased(const shmq_pub *pub);
/*
 * How often a producer parked for room wakes to look for dead subscribers or a dead
 * consumer, and a channel's consumer parked for a message to look for a dead producer
 * (default 10 ms). Tests set 0 (never), so that a wake the other side fails to give shows
 * as a hang.
 */
extern uint64_t shmqi_room_slice_ns;

/*
 * wake.c: parking on a 32-bit word in shared memory, and waking whoever parked there.
 * The word must live in MAP_SHARED memory; waiters and wakers may be in any process.
 */
enum {
	SHMQI_WAKE_FUTEX = 1, /* the futex syscall */
	SHMQI_WAKE_IO_URING = 2, /* IORING_OP_FUTEX_WAIT on a per-thread ring */
};
#define SHMQI_WAIT_FOREVER UINT64_MAX
int shmqi_wake_backend(void); /* detected once; $SHMQ_WAKE_BACKEND=futex forces the syscall */
/* Sleep while *@word == @expected, at most @timeout_ns (or SHMQI_WAIT_FOREVER).
 * Return: 0 (woken, maybe spuriously), -EAGAIN (the word differed), -ETIMEDOUT, -EINTR. */
int shmqi_park(_Atomic uint32_t *word, uint32_t expected, uint64_t timeout_ns);
/* Wake up to @n waiters parked on @word. Return: 0 or -errno. */
int shmqi_wake(_Atomic uint32_t *word, int n);

/*
 * clock.c: the host's TSC conversion (struct shmqi_clock, shm_layout.h). shmqi_now_ns()
 * reads the TSC unordered (for stamps taken before a publishing store), shmq_now_ns()
 * ordered after the caller's earlier loads (for "now - ts_ns" after a receive).
 */
enum shmqi_clock_mode {
	SHMQI_CLOCK_TSC = 1, /* the TSC, converted through the host's clock page */
	SHMQI_CLOCK_FORCED = 2, /* clock_gettime(): $SHMQ_CLOCK=monotonic */
	SHMQI_CLOCK_NO_TSC = 3, /* clock_gettime(): not x86-64, no RDTSCP, or another clocksource */
	SHMQI_CLOCK_NO_PAGE = 4, /* clock_gettime(): the clock page could not be had */
};
int shmqi_clock_mode(void); /* decided once per process */
int shmqi_clock_page_error(void); /* -errno of the page's open when NO_PAGE, else 0 */
bool shmqi_clock_tsc_usable(void); /* the TSC path would work here, whatever $SHMQ_CLOCK says */
/* One thread's copy of the piece it converts with; all zero until the first read. */
struct shmqi_clock_cache {
	uint64_t start, len, ns0, mult;
};
struct shmqi_clock;
/* Fill a fresh page's calibration (about 2 ms). Return: 0, -EAGAIN, -EOPNOTSUPP. */
int shmqi_clock_calibrate(struct shmqi_clock *pg);
/* Now on @pg's clock through @c, renewing the piece when it ended; @ordered: RDTSCP. */
uint64_t shmqi_clock_read(struct shmqi_clock *pg, struct shmqi_clock_cache *c, bool ordered);
/* Tests only: the span of the pieces this process writes (default 1 ms), and a skew in ppm
 * applied to them with alternating sign, so that renewals change the rate. */
extern uint64_t shmqi_clock_span_ns;
extern int32_t shmqi_clock_test_skew_ppm;
/* Tests only, in a single-threaded process: decide the mode again, with the page at @path. */
void shmqi_clock_test_reset(const char *path);

/* How long an attacher waits for a creator to publish a header. */
#define SHMQI_ATTACH_WAIT_NS 2000000000ull

#endif /* SHMQ_INTERNAL_H */
