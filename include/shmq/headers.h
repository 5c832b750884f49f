/* SPDX-License-Identifier: MIT */
/* shmq/headers.h - key/value headers on records: building, checking and reading a block. */
#ifndef SHMQ_HEADERS_H
#define SHMQ_HEADERS_H

#include <stddef.h>

#include <shmq/bus.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Any record may carry headers: a content type, a W3C traceparent, an idempotency key, a
 * reply inbox. They travel as one block beside the payload, through topics, groups, dead
 * letters and request/reply, and are read where they lie (shmq_sub_headers(),
 * shmq_group_headers()). A record without headers carries nothing and costs nothing.
 *
 * A block is a sequence of entries, each 4 bytes then the key then the value:
 *
 *   byte 0     key length, 1..SHMQ_HDR_KEY_MAX
 *   byte 1     0 (reserved)
 *   bytes 2-3  value length, 0..SHMQ_HDR_VAL_MAX, little-endian
 *
 * with no padding between entries. Keys are HTTP tokens (RFC 9110: letters, digits and
 * !#$%&'*+-.^_`|~), compared byte for byte (case matters, as in NATS). Values are text with
 * no CR, LF or NUL (UTF-8 welcome), so that they map onto NATS, HTTP and Kafka headers
 * unchanged. A key may repeat; shmq_hdrs_get() finds the first. Keys starting with "shmq-"
 * are the library's own (request/reply uses shmq-reply-to).
 *
 * Limits: SHMQ_HDRS_MAX_COUNT entries and SHMQ_HDRS_MAX bytes per block. The block and the
 * payload share a record's room: align8(block) + payload <= the topic's max_msg.
 *
 * The readers below never read outside [@hdrs, @hdrs + @len), whatever the bytes: a block
 * found corrupt in a hostile segment gives -EBADMSG.
 */

#define SHMQ_HDR_KEY_MAX 64u
#define SHMQ_HDR_VAL_MAX 1024u
#define SHMQ_HDRS_MAX_COUNT 32u
#define SHMQ_HDRS_MAX 4096u

/**
 * shmq_hdrs_add() - append one header to a block being built.
 * @block:   the block's buffer
 * @cap:     its size
 * @len:     in: the block's length so far (0 to start); out: its new length
 * @key:     a NUL-terminated key
 * @val:     the value (may be NULL when @val_len is 0)
 * @val_len: its length
 *
 * Return: 0, or -EINVAL (a bad key or value, or @len is not a valid block), -E2BIG (the
 * block would pass SHMQ_HDRS_MAX_COUNT entries or SHMQ_HDRS_MAX bytes), -ENOSPC (@cap is
 * too small). The block is unchanged on failure.
 */
SHMQ_API int shmq_hdrs_add(void *block, size_t cap, size_t *len, const char *key, const void *val,
			   size_t val_len);

/**
 * shmq_hdrs_check() - validate a block, as a send does.
 * Return: the number of entries (>= 0; 0 for an empty block), or -EBADMSG (malformed:
 * an entry that runs past @len, a bad key or value), -E2BIG (over the limits).
 */
SHMQ_API int shmq_hdrs_check(const void *hdrs, size_t len);

/**
 * shmq_hdrs_next() - iterate over a block's entries.
 * @pos: in: 0 for the first entry, then what the previous call left; out: past this one
 *
 * @ret_key is not NUL-terminated: use @ret_key_len. Neither is @ret_val.
 * Return: 1 (an entry), 0 (no more), or -EBADMSG (the entry at @pos is malformed).
 */
SHMQ_API int shmq_hdrs_next(const void *hdrs, size_t len, size_t *pos, const char **ret_key,
			    size_t *ret_key_len, const char **ret_val, size_t *ret_val_len);

/**
 * shmq_hdrs_get() - the value of the first header named @key.
 * Return: 0, or -ENOENT (none), -EBADMSG (the block is malformed before a match), -EINVAL.
 */
SHMQ_API int shmq_hdrs_get(const void *hdrs, size_t len, const char *key, const char **ret_val,
			   size_t *ret_val_len);

/*
 * Time headers: a record's expiry and its "not before", absolute CLOCK_MONOTONIC nanoseconds
 * (shmq_now_ns(), the clock of publish times, which every process of the host shares) in
 * decimal. A consumer group never delivers an expired record (it is dead-lettered with
 * reason SHMQ_DLQ_EXPIRED, or dropped and counted without a dead-letter topic) and holds a
 * record back until its not-before time without holding back the records after it (SQS's
 * DelaySeconds). A subscriber skips an expired record and counts it (shmq_sub_expired());
 * it sees delayed records in order, when they come, with the time on them.
 */
#define SHMQ_HDR_EXPIRES "shmq-expires"
#define SHMQ_HDR_NOT_BEFORE "shmq-not-before"
/*
 * The longest delay (SQS's too): a held record keeps its place in the group's window
 * (max_pending) until its time, and a longer one would hold the group up. A group
 * dead-letters a record whose not-before is further away than this (SHMQ_DLQ_DELAY).
 */
#define SHMQ_MAX_DELAY_NS 900000000000ull /* 15 min */

/**
 * shmq_hdrs_add_ttl() - add "shmq-expires" @ttl_ns from now (shmq_now_ns()).
 * shmq_hdrs_add_delay() - add "shmq-not-before" @delay_ns from now.
 * Return: as shmq_hdrs_add(); -EINVAL for a delay over SHMQ_MAX_DELAY_NS.
 */
SHMQ_API int shmq_hdrs_add_ttl(void *block, size_t cap, size_t *len, uint64_t ttl_ns);
SHMQ_API int shmq_hdrs_add_delay(void *block, size_t cap, size_t *len, uint64_t delay_ns);

/**
 * shmq_hdrs_time() - a time header's value (SHMQ_HDR_EXPIRES, SHMQ_HDR_NOT_BEFORE).
 * Return: 0 and *@ret_ns, or -ENOENT (none), -EBADMSG (not a decimal number, or the block
 * is malformed), -EINVAL.
 */
SHMQ_API int shmq_hdrs_time(const void *hdrs, size_t len, const char *key, uint64_t *ret_ns);

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_HEADERS_H */
