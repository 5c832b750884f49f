#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: install what is missing, build, and print the ping-pong latency report.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh build -Dbench=true >/dev/null
exec ./build/bench/shmq-bench quick "$@"
