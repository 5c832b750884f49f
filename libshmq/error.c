// SPDX-License-Identifier: MIT
/* error.c - version and error texts. */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* "MAJOR.MINOR.PATCH" from shmq/version.h, which meson writes from project(version:). */
#define STR(x) #x
#define XSTR(x) STR(x)

const char *shmq_version(void)
{
	return XSTR(SHMQ_VERSION_MAJOR) "." XSTR(SHMQ_VERSION_MINOR) "." XSTR(SHMQ_VERSION_PATCH);
}

const char *shmq_strerror(int err)
{
	const char *s;

	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "Success";
	case EPROTO:
		return "Segment layout not recognised (foreign, corrupt or never published)";
	case EBADMSG:
		return "Corrupt record in shared memory";
	case EAGAIN:
		return "Resource temporarily unavailable (ring full or empty)";
	case EBUSY:
		return "Device or resource busy (role held by a live process, or operation "
		       "pending)";
	default:
		break;
	}
	s = strerrordesc_np(err);
	return s ? s : "Unknown error";
}
