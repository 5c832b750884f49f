// SPDX-License-Identifier: MIT
/* error.c - version, error texts and the per-thread detail of the last failure. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* "MAJOR.MINOR.PATCH" from shmq/version.h, which meson writes from project(version:). */
#define STR(x) #x
#define XSTR(x) STR(x)

/*
 * The detail a failing call left, and the copy shmq_last_detail() handed out: reading
 * clears the first, and the second stays valid until the next read (as dlerror()).
 */
static _Thread_local char pending[SHMQI_DETAIL_MAX];
static _Thread_local char shown[SHMQI_DETAIL_MAX];

const char *shmq_version(void)
{
	return XSTR(SHMQ_VERSION_MAJOR) "." XSTR(SHMQ_VERSION_MINOR) "." XSTR(SHMQ_VERSION_PATCH);
}

void shmqi_detail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pending, sizeof(pending), fmt, ap);
	va_end(ap);
}

void shmqi_detail_clear(void)
{
	pending[0] = '\0';
}

void shmqi_detail_save(char buf[SHMQI_DETAIL_MAX])
{
	memcpy(buf, pending, SHMQI_DETAIL_MAX);
}

void shmqi_detail_restore(const char buf[SHMQI_DETAIL_MAX])
{
	memcpy(pending, buf, SHMQI_DETAIL_MAX);
}

bool shmqi_cfg_differs(const char *kind, const char *field, uint64_t has, uint64_t asked)
{
	if (!asked || asked == has)
		return false;
	shmqi_detail("%s: %s has %llu, asked %llu", field, kind, (unsigned long long)has,
		     (unsigned long long)asked);
	return true;
}

const char *shmq_last_detail(void)
{
	memcpy(shown, pending, sizeof(shown));
	pending[0] = '\0';
	return shown;
}

/* The shmq meaning of each code the API documents; NULL for the system's text. */
static const char *known_text(int err)
{
	switch (err) {
	case 0:
		return "Success";
	case EPROTO:
		return "Segment layout not recognised (foreign, corrupt or never published), or a "
		       "corrupt encoding";
	case EPROTOTYPE:
		return "The object is of another kind: a topic opened as a channel, or the reverse";
	case EBADE:
		return "The existing object's configuration differs from the one asked for";
	case EBADMSG:
		return "Corrupt record in shared memory";
	case EAGAIN:
		return "Try again: the ring or log is full (send) or empty (receive)";
	case EBUSY:
		return "Busy: the role is held by a live process, an exclusive producer is open, "
		       "or a reservation, claim or peek is outstanding";
	case EUSERS:
		return "Every subscriber or producer entry is held by a live process";
	case ESTALE:
		return "Stale: the record or lease is no longer this handle's (another process "
		       "took this producer for dead, or a producer overwrote a peeked record)";
	case EPIPE:
		return "The other side is gone: the producer (or consumer) closed or died, and "
		       "nothing is left";
	case EMSGSIZE:
		return "Message too large: above the object's max_msg, or larger than the buffer";
	case ETIMEDOUT:
		return "Timed out: the wait's timeout passed, or a slot stayed held by a stopped "
		       "producer past the claim timeout";
	case EACCES:
		return "Permission denied: the segment's mode does not allow this user";
	case ENOENT:
		return "No such object (nothing of that name in the namespace)";
	case EEXIST:
		return "The object exists already (SHMQ_OPEN_EXCL)";
	case EINVAL:
		return "Invalid argument (a bad name, flag or configuration value)";
	case EBADF:
		return "Wrong handle: a producer call on a consumer handle, or the reverse";
	case ENOSPC:
		return "No room left in /dev/shm";
	case EOPNOTSUPP:
		return "Not supported: this kernel has no io_uring futex waits (see "
		       "shmq_wake_backend()), or the handle cannot park (a read-only subscriber)";
	case EIDRM:
		return "The object was removed (its name is free, or names one created anew) and "
		       "everything this handle could read is read: open the name again";
	case ERANGE:
		return "Value outside the histogram's range";
	case EOVERFLOW:
		return "A count would pass its limit";
	default:
		return NULL;
	}
}

const char *shmq_strerror(int err)
{
	const char *s;

	if (err < 0)
		err = -err;
	s = known_text(err);
	if (s)
		return s;
	s = strerrordesc_np(err);
	return s ? s : "Unknown error";
}
