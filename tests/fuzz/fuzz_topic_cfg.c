// SPDX-License-Identifier: MIT
/*
 * fuzz_topic_cfg.c - libFuzzer target for the topic configuration object (the "config" of
 * declare, open's replies and the state file): shmqi_topic_cfg_parse() on any JSON value,
 * and what it accepts must come back unchanged through shmqi_topic_cfg_json().
 */
#include <string.h>

#include "fuzz.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shmq_topic_config cfg, again;
	json_error_t je;
	json_t *j, *out;

	/* Like a record: the daemon reads no more (a state file goes through the same parse). */
	if (size > 65536)
		return 0;
	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!j)
		return 0;
	memset(&cfg, 0xa5, sizeof(cfg));
	if (shmqi_topic_cfg_parse(j, &cfg) == 0) {
		FUZZ_CHECK(json_is_object(j));
		FUZZ_CHECK(cfg.mode <= 0777);
		FUZZ_CHECK(cfg.policy == SHMQ_TOPIC_RELIABLE || cfg.policy == SHMQ_TOPIC_LOSSY);
		FUZZ_CHECK(cfg.claim_timeout_ns <= (uint64_t)INT64_MAX);
		out = shmqi_topic_cfg_json(&cfg);
		FUZZ_CHECK(out);
		memset(&again, 0x5a, sizeof(again));
		FUZZ_CHECK(shmqi_topic_cfg_parse(out, &again) == 0);
		FUZZ_CHECK(!memcmp(&cfg, &again, sizeof(cfg)));
		json_decref(out);
	}
	json_decref(j);
	return 0;
}
