/* SPDX-License-Identifier: MIT */
/* conf.h - the "key = value" configuration files of shmqd and shmq-nats (one line reader), and
 * the directories their files go in. */
#ifndef SHMQ_TOOLS_CONF_H
#define SHMQ_TOOLS_CONF_H

/*
 * One line of a configuration file: @s, trimmed, neither empty nor a comment ('#' first);
 * @s may be changed. Return: 0, or a negative errno that ends the reading.
 */
typedef int conf_line_fn(void *ctx, char *s, const char *path, int lineno);

/*
 * conf_read() - call @fn for each line of @path that is not blank or a comment. Lines are
 * at most 1023 bytes; a longer one is an error (-E2BIG, with the line's number in
 * *@ret_lineno), as is one that @fn refuses.
 * Return: 0, -errno of the open, or the first error.
 */
int conf_read(const char *path, conf_line_fn *fn, void *ctx, int *ret_lineno);

/*
 * conf_split() - "key = value" in @s: *@key and *@val point into @s, both trimmed.
 * Return: 0, or -EINVAL when there is no '=' or the key is empty.
 */
int conf_split(char *s, char **key, char **val);

/* conf_trim() - @s without leading and trailing blanks (spaces, tabs, CR, LF); in place. */
char *conf_trim(char *s);

/*
 * conf_mkdirs() - make the directories above @path that are missing (mode 0755), for the
 * files shmqd and shmq-nats keep (a socket, a metrics file). Return: 0, or -errno.
 */
int conf_mkdirs(const char *path);

#endif /* SHMQ_TOOLS_CONF_H */
