/* SPDX-License-Identifier: MIT */
/* shmq/bus.h - version, errors, clock, the bus, and what all kinds share; included by shmq.h. */
#ifndef SHMQ_BUS_H
#define SHMQ_BUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmq/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SHMQ_API
#define SHMQ_API __attribute__((visibility("default")))
#endif

/**
 * shmq_version() - the library's version as "MAJOR.MINOR.PATCH".
 *
 * Return: a static string; compare with SHMQ_VERSION_* to detect a header/library mismatch.
 */
SHMQ_API const char *shmq_version(void);

/**
 * shmq_strerror() - a human-readable text for an error returned by this library.
 * @err: a negative (or positive) errno value as returned by any shmq_* call
 *
 * Gives the shmq meaning of every code the API documents (-EPROTO: a segment whose layout
 * this library does not speak; -EPROTOTYPE: an object of the other kind; -EBADE: a
 * configuration that differs from the existing object's; -EUSERS: every slot taken; ...)
 * and the system text for others.
 *
 * Return: a static string, never NULL; thread-safe.
 */
SHMQ_API const char *shmq_strerror(int err);

/**
 * shmq_last_detail() - what exactly was wrong with this thread's last failed call.
 *
 * The calls that open or name an object (shmq_bus_open(), shmq_unlink(),
 * shmq_channel_open(), shmq_pub_open(), shmq_sub_open(), shmq_topic_stat(), the calls of
 * shmq/inspect.h, shmq_hist_shm_attach()) clear the detail when they start and fill it when
 * they fail for a reason worth naming: which configuration field differs and both values
 * ("slots: topic has 4096, asked 1024"), what is wrong with a name or namespace and the rule
 * it breaks, which kind the object is ("the object is a topic, opened as a channel"), why a
 * segment's layout is not ours ("topic layout version 2; this library speaks 1": each kind
 * has a layout version of its own, and the segment header one for itself), how many entries
 * a table has whose every entry is held (-EUSERS: "topic 'x': all 8 subscriber entries are
 * held by live processes").
 * Other failures leave it empty. As dlerror(), reading it clears it: read it once, right
 * after the failed call, and show it next to shmq_strerror()'s text.
 *
 * Return: a string owned by the library, valid until this thread's next call of
 * shmq_last_detail(); "" when there is none. Never NULL; the library never prints it.
 */
SHMQ_API const char *shmq_last_detail(void);

/* Environment variable that forces the wake-up backend: "futex" (the syscall) or unset. */
#define SHMQ_WAKE_BACKEND_ENV "SHMQ_WAKE_BACKEND"

/**
 * shmq_wake_backend() - how parked waiters sleep in this process.
 *
 * "io_uring" (IORING_OP_FUTEX_WAIT, kernel 6.7+) where io_uring is available and allowed,
 * else "futex" (the futex syscall: no io_uring, kernel.io_uring_disabled, a seccomp filter
 * that refuses it, or $SHMQ_WAKE_BACKEND=futex). Detected once per process.
 *
 * Return: a static string.
 */
SHMQ_API const char *shmq_wake_backend(void);

/* Environment variable that forces record timestamps to clock_gettime(): "monotonic". */
#define SHMQ_CLOCK_ENV "SHMQ_CLOCK"

/**
 * shmq_now_ns() - now on the clock of record timestamps: CLOCK_MONOTONIC nanoseconds.
 *
 * Where the kernel's clocksource is the TSC (x86-64), it is read from the TSC and converted
 * with one conversion that every process on the host shares (the page
 * /dev/shm/shmq-clock.H.K, H and K the layout versions of the segment header and the page),
 * re-anchored to clock_gettime(CLOCK_MONOTONIC) every millisecond, so that it stays within
 * a fraction of a microsecond of it. A reading is never below one that happened before it,
 * in this thread or in another process (one that stored a stamp this caller then loaded),
 * so "shmq_now_ns() - ts_ns" after a receive is never negative. Elsewhere, with
 * $SHMQ_CLOCK=monotonic, or where that page cannot be created or attached, every call is a
 * plain clock_gettime().
 *
 * Return: nanoseconds; thread-safe.
 */
SHMQ_API uint64_t shmq_now_ns(void);

/**
 * shmq_clock_source() - where shmq_now_ns() reads time: "tsc" (through the host's shared
 * conversion) or "clock_gettime".
 *
 * Decided once per process. Return: a static string.
 */
SHMQ_API const char *shmq_clock_source(void);

/*
 * The bus: a namespace of named objects (channels and topics) in POSIX shared memory.
 * Segments are named "/shmq.<namespace>.<name>" and so live in /dev/shm.
 */
typedef struct shmq_bus shmq_bus;

/* Longest namespace, in characters of [A-Za-z0-9_-]. */
#define SHMQ_NAMESPACE_MAX 32
/* Longest object name, in characters of [A-Za-z0-9_.-] (dot-separated, no empty segment). */
#define SHMQ_NAME_MAX 200
/* Environment variable that names the namespace when shmq_bus_open() is given NULL. */
#define SHMQ_NAMESPACE_ENV "SHMQ_NAMESPACE"

/**
 * shmq_bus_open() - open a bus namespace.
 * @ns:      1-32 chars of [A-Za-z0-9_-]; NULL takes $SHMQ_NAMESPACE, else "default"
 * @flags:   0 (no flags are defined yet; any bit is rejected)
 * @ret_bus: on success a handle owned by the caller, released with shmq_bus_close();
 *           untouched on failure
 *
 * Opening a bus touches no shared memory; it fixes the namespace that later calls use.
 *
 * Return: 0, or -EINVAL (bad namespace, also when taken from the environment, or flags;
 * shmq_last_detail() says what is wrong with a namespace), -ENOMEM.
 */
SHMQ_API int shmq_bus_open(const char *ns, unsigned flags, shmq_bus **ret_bus);

/**
 * shmq_bus_close() - release a bus handle from shmq_bus_open(); NULL is ignored.
 *
 * Objects opened through the bus stay valid: each keeps what it needs.
 */
SHMQ_API void shmq_bus_close(shmq_bus *bus);

/**
 * shmq_bus_namespace() - the namespace a bus was opened with.
 *
 * Return: a string owned by @bus, or NULL when @bus is NULL.
 */
SHMQ_API const char *shmq_bus_namespace(const shmq_bus *bus);

/**
 * shmq_unlink() - remove a named object from the bus.
 * @bus:  the bus
 * @name: the object's name
 *
 * Like unlink(2): processes that have it open keep using it; the name is free at once
 * and the memory is returned when the last user closes it.
 *
 * Return: 0, or -EINVAL (bad name: shmq_last_detail() says what is wrong), -ENOENT,
 * -EACCES.
 */
SHMQ_API int shmq_unlink(shmq_bus *bus, const char *name);

/* Permission bits of a new segment when its configuration gives 0 (channels and topics). */
#define SHMQ_DEFAULT_MODE 0600u

/*
 * Flags of every open call (shmq_channel_open(), shmq_pub_open(), shmq_sub_open()). Each kind
 * adds its own flags in other bits: SHMQ_OPEN_PRODUCER/CONSUMER in shmq/channel.h,
 * SHMQ_SUB_* and SHMQ_PUB_* in shmq/topic.h.
 */
#define SHMQ_OPEN_CREATE 0x01u /* create the object if absent */
#define SHMQ_OPEN_EXCL 0x02u /* with CREATE: fail with -EEXIST if it exists */
/*
 * With CREATE, for channels and topics: the object's records carry no publish time (ts_ns
 * is 0), so that producers read no clock per record. A property of the object, set when
 * the call creates it, ignored when it attaches to an existing one (as the mode is).
 * Delivery-latency histograms (SHMQ_SUB_LATENCY) record nothing for such records.
 */
#define SHMQ_OPEN_NO_TIMESTAMPS 0x40000u

/* Spin budgets and timeouts of the wait calls, in nanoseconds. */
#define SHMQ_SPIN_FOREVER UINT64_MAX /* busy-poll, never park */
#define SHMQ_WAIT_FOREVER UINT64_MAX /* no timeout */

/* liburing's; the *_prep_wait() calls fill one. */
struct io_uring_sqe;

#ifdef __cplusplus
}
#endif

#endif /* SHMQ_BUS_H */
