#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what is missing, build, and run every test: plain build, ASan+UBSan, TSan, and a
# brief libFuzzer run of every fuzz target; with SHMQ_CI_AARCH64=1, the lock-free tests on an
# emulated aarch64 too.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh --test

status=0
run() { # run DIR SUITE-ARGS...: meson prints its summary (Ok/Fail/Skipped) for each run
	local dir=$1
	shift
	meson test -C "$dir" --print-errorlogs "$@" || status=1
}

echo "== plain build: every test"
./scripts/build.sh build -Dwerror=true -Dbench=true
run build

echo "== ASan + UBSan: every test but the chaos run (stress at 20 % of its message counts)"
./scripts/build.sh build-asan -Dwerror=true -Dbench=false -Dbuildtype=debug \
	-Db_sanitize=address,undefined -Db_lundef=false
SHMQ_STRESS_SCALE=20 run build-asan --no-suite chaos

echo "== TSan: the threaded concurrency tests (at 10 %)"
./scripts/build.sh build-tsan -Dwerror=true -Dbench=false -Dbuildtype=debug \
	-Db_sanitize=thread -Db_lundef=false
SHMQ_STRESS_SCALE=10 run build-tsan --suite tsan

echo "== libFuzzer: each target's seeds, then 10 s of fuzzing each (clang, ASan+UBSan)"
./scripts/deps.sh --fuzz
CC=clang ./scripts/build.sh build-fuzz -Dfuzz=true -Dbench=false
run build-fuzz --suite fuzz

# Optional (SHMQ_CI_AARCH64=1; off by default: about 3.5 minutes on 2 vCPUs, both busy): the
# lock-free tests on an emulated aarch64, a weakly ordered CPU (docs/reliability.md). The
# whole aarch64 run, about 16 minutes, is scripts/test-aarch64.sh alone.
if [ "${SHMQ_CI_AARCH64:-0}" = 1 ]; then
	echo "== aarch64 (emulated): channel, topic, group, group-races, wake-stress (at 2 %)"
	SHMQ_AARCH64_ONLY='^(channel|topic|group|group-races|wake-stress)$' \
		./scripts/test-aarch64.sh || status=1
fi

exit $status
