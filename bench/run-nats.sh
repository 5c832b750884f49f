#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-nats.sh - the NATS bridge's figures of docs/benchmarks.md, against a nats-server this
# script starts on a free loopback port (and stops):
#   - export rate: N SIZE-byte records waiting in a topic, forwarded by shmq-nats, against a
#     plain libnats publisher of N SIZE-byte messages, both counted by the same NATS subscriber
#     (shmq-nats-bench sink); alternated RUNS times, the ratio per pair and its median;
#   - latency shmq -> NATS -> shmq: two bridges (namespace A exports, B imports), records
#     published in A at a fixed rate, each timed from when it was due to its receipt in B.
# usage: bench/run-nats.sh [RUNS [N]]   (defaults 3 runs, 200000 records)
# BUILD names the build directory (default build); SIZE the record size (default 64); RATE and
# LAT_N the latency run's rate and count (default 2000/s, 20000); LAT=0 skips the latency run.
set -euo pipefail
runs=${1:-3} n=${2:-200000} size=${SIZE:-64}
build=${BUILD:-build}
rate=${RATE:-2000} lat_n=${LAT_N:-20000}
shmq=$build/tools/shmq bridge=$build/bridge/shmq-nats nb=$build/bench/shmq-nats-bench
natsd=$(command -v nats-server || echo /usr/sbin/nats-server)
for x in "$shmq" "$bridge" "$nb" "$natsd"; do
	[ -x "$x" ] || { echo "run-nats.sh: $x missing (build with libnats; nats-server)" >&2; exit 1; }
done
export SHMQ_DAEMON=off
dir=$(mktemp -d) ns=bnats$$ nsb=bnatsb$$
export SHMQ_METRICS_DIR=$dir/metrics
server= pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -n "$server" ] && kill "$server" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$dir" /dev/shm/shmq."$ns".* /dev/shm/shmq."$nsb".*
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=nats://127.0.0.1:$port
"$natsd" -a 127.0.0.1 -p "$port" >"$dir/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

# sink SUBJECT: a subscriber in the background, ready once it says so; its output in $dir/sink.
sink() {
	"$nb" sink "$url" "$1" "$n" >"$dir/sink" 2>&1 &
	sink_pid=$!
	for _ in $(seq 200); do grep -q ready "$dir/sink" && return 0; sleep 0.05; done
	echo "run-nats.sh: the sink never got ready: $(cat "$dir/sink")" >&2
	exit 1
}
rate_of() { sed -n 's/^sink .*: \([0-9]*\) msg\/s$/\1/p' "$dir/sink"; }

ratios=()
for i in $(seq "$runs"); do
	# The bridge: N records in a topic first, then the bridge forwards them.
	t=bench.r$i
	"$shmq" pub -n "$ns" --create --slots "$(python3 -c "import math;print(2**math.ceil(math.log2($n)))")" \
		--max-msg "$size" --size "$size" -c "$n" "$t" >/dev/null
	sink "$t"
	"$bridge" --url "$url" -n "$ns" --export "$t" 2>"$dir/bridge.err" &
	bp=$!
	wait "$sink_pid" || { echo "run-nats.sh: bridge sink: $(cat "$dir/sink")" >&2; exit 1; }
	kill "$bp"
	wait "$bp" 2>/dev/null || true
	"$shmq" rm -n "$ns" "$t" "$t@nats-bridge" >/dev/null 2>&1 || "$shmq" rm -n "$ns" "$t" >/dev/null 2>&1 || true
	br=$(rate_of)
	# A plain libnats publisher of as many messages of the same size.
	sink plain.r$i
	"$nb" pub "$url" plain.r$i "$n" "$size" >"$dir/pub"
	wait "$sink_pid" || { echo "run-nats.sh: plain sink: $(cat "$dir/sink")" >&2; exit 1; }
	pr=$(rate_of)
	ratio=$(python3 -c "print(f'{$br / $pr:.3f}')")
	ratios+=("$ratio")
	echo "run $i: bridge export $br msg/s, plain libnats publisher $pr msg/s, ratio $ratio"
done
sorted=$(printf '%s\n' "${ratios[@]}" | sort -n | tr '\n' ' ')
echo "$size-byte records: export / plain publisher: median $(echo $sorted | awk '{print $(int((NF+1)/2))}'), min $(echo $sorted | awk '{print $1}'), max $(echo $sorted | awk '{print $NF}') over $runs runs (target >= 0.8)"

[ "${LAT:-1}" = 0 ] && exit 0
# Latency through two bridges: A exports lat.t, B imports it.
"$bridge" --url "$url" -n "$ns" --export 'lat.>' 2>"$dir/ba.err" &
pids+=($!)
"$bridge" --url "$url" -n "$nsb" --import 'lat.>' 2>"$dir/bb.err" &
pids+=($!)
sleep 1
"$nb" lat "$ns" "$nsb" lat.t "$rate" "$lat_n" 64
