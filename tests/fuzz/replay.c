// SPDX-License-Identifier: MIT
/*
 * replay.c - runs a fuzz target without libFuzzer: each file named on the command line, and
 * each regular file of each directory named there, is one input to LLVMFuzzerTestOneInput().
 * CI builds it where clang's libFuzzer is not used, so that every build replays the corpus.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Inputs over this size are not read: the targets' own limits are far below. */
#define REPLAY_MAX (1u << 20)

/* Run one file: 0, or -1 after saying why it could not be read. */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf, *exact;
	size_t n;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = malloc(REPLAY_MAX + 1);
	n = buf ? fread(buf, 1, REPLAY_MAX + 1, f) : 0;
	if (!buf || ferror(f) || n > REPLAY_MAX) {
		fprintf(stderr, "replay: %s: %s\n", path,
			!buf	    ? "out of memory"
			: ferror(f) ? "read error"
				    : "larger than 1 MiB");
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	/* A copy of exactly @n bytes, so that ASan sees a read past the end of the input. */
	exact = realloc(buf, n ? n : 1);
	if (exact)
		buf = exact;
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Run every regular file of @dir in name order: the number run, or -1. */
static int run_dir(const char *dir)
{
	char path[4096];
	struct dirent **ents;
	struct stat st;
	int n, i, runs = 0, r = 0;

	n = scandir(dir, &ents, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (r == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			r = run_file(path);
			runs++;
		}
		free(ents[i]);
	}
	free(ents);
	return r < 0 ? -1 : runs;
}

int main(int argc, char **argv)
{
	struct stat st;
	int i, r, runs = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode))
			r = run_dir(argv[i]);
		else
			r = run_file(argv[i]) < 0 ? -1 : 1;
		if (r < 0)
			return 1;
		runs += r;
	}
	printf("replay: %d inputs run\n", runs);
	/* An empty corpus would pass without testing anything. */
	return runs > 0 ? 0 : 1;
}
