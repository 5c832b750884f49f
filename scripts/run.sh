#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: install what is missing, build, then show the bus as a user meets it (shmqd on
# a private socket, a publisher, a subscriber and a work queue whose worker is killed mid-run,
# with their latency report) and print the short ping-pong benchmark. Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh build -Dbench=true >/dev/null

dir=$(mktemp -d /tmp/shmq-run.XXXXXX)
export SHMQ_NAMESPACE="run$$" SHMQ_SOCKET="$dir/shmqd.sock"
./build/daemon/shmqd --foreground --socket "$SHMQ_SOCKET" 2>"$dir/shmqd.log" &
daemon=$!
stop() {
	kill "$daemon" 2>/dev/null && wait "$daemon" || true
	rm -rf "$dir"
}
trap stop EXIT
for _ in $(seq 100); do # until it answers (at most 5 s)
	./build/tools/shmq daemon >/dev/null 2>&1 && break
	sleep 0.05
done

echo "== the bus: shmqd, a publisher, a subscriber and a work queue (examples/tour.c)"
./build/examples/tour
echo "shmqd: $(./build/tools/shmq daemon | sed -e 's/.*"loop":"\([a-z_]*\)".*"deaths":\([0-9]*\),"freed":\([0-9]*\).*/event loop \1, \2 client exits seen, \3 entries freed at once/')"
echo
echo "== the short benchmark (shmq-bench quick)"
./build/bench/shmq-bench quick "$@"
