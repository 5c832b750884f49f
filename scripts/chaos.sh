#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The full chaos run: 1,000 seeded faults into the live workload of tests/chaos/, then the
# checker. Usage: scripts/chaos.sh [SEED [FAULTS [BUILD_DIR]]]; exit status 0 when every figure
# is as promised (docs/reliability.md, "Chaos runs"). The logs stay in the run's directory.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-$(date +%s)}
faults=${2:-1000}
build=${3:-build}
[ -x "$build/tests/chaos" ] || ./scripts/build.sh "$build" -Dtests=true
dir=$(mktemp -d /tmp/shmq-chaos.XXXXXX)
echo "chaos: seed $seed, $faults faults, logs in $dir"
exec nice -n 19 "$build/tests/chaos" --shmqd "$build/daemon/shmqd" --seed "$seed" \
	--faults "$faults" --duration $((faults * 40)) --ns "chaos$$" --dir "$dir" \
	--json "$dir/chaos.json"
