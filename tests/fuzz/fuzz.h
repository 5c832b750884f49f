/* SPDX-License-Identifier: MIT */
/* fuzz.h - what the fuzz targets share with libFuzzer and with the replay driver. */
#ifndef SHMQ_FUZZ_H
#define SHMQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Called once per input, by libFuzzer's main() or by replay.c's. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise is a crash that the fuzzer reports, with or without NDEBUG. */
#define FUZZ_CHECK(cond)                                                                         \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                 \
		}                                                                                \
	} while (0)

#endif /* SHMQ_FUZZ_H */
