// SPDX-License-Identifier: MIT
/* conf.c - the "key = value" configuration files of shmqd and shmq-nats. */
#include "conf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define LINE_MAX_BYTES 1024

char *conf_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int conf_split(char *s, char **key, char **val)
{
	char *eq = strchr(s, '=');

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	*key = conf_trim(s);
	*val = conf_trim(eq + 1);
	return **key ? 0 : -EINVAL;
}

int conf_read(const char *path, conf_line_fn *fn, void *ctx, int *ret_lineno)
{
	char buf[LINE_MAX_BYTES], *s;
	int lineno = 0, r = 0;
	FILE *f = fopen(path, "re");

	*ret_lineno = 0;
	if (!f)
		return -errno;
	while (r == 0 && fgets(buf, sizeof(buf), f)) {
		lineno++;
		if (!strchr(buf, '\n') && !feof(f)) {
			r = -E2BIG;
			break;
		}
		s = conf_trim(buf);
		if (*s && *s != '#')
			r = fn(ctx, s, path, lineno);
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	fclose(f);
	*ret_lineno = r ? lineno : 0;
	return r;
}

int conf_mkdirs(const char *path)
{
	char buf[PATH_MAX], *p;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}
