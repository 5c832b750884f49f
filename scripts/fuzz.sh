#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run libFuzzer targets (tests/fuzz/) on a copy of their corpora: fuzz.sh TARGET|all SECONDS
# Builds build-fuzz (CC=clang, -Dfuzz=true) when absent; BUILD=DIR picks another directory.
# Prints the executions and the crashes of each run; exits 1 when a run found a crash.
set -euo pipefail
usage="usage: fuzz.sh TARGET|all SECONDS (targets: proto topic_cfg hdrs pattern hist segment)"
[ $# -eq 2 ] || { echo "$usage" >&2; exit 2; }
case $2 in '' | *[!0-9]*) echo "$usage" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build-fuzz}
targets=(proto topic_cfg hdrs pattern hist segment)
if [ "$1" = all ]; then
	run=("${targets[@]}")
else
	[ -d "$root/tests/fuzz/corpus/$1" ] || { echo "fuzz.sh: unknown target '$1'" >&2; exit 2; }
	run=("$1")
fi
if [ ! -f "$build/build.ninja" ]; then
	"$root/scripts/deps.sh" --fuzz
	CC=clang meson setup "$build" "$root" -Dfuzz=true -Dbench=false >/dev/null
fi
nice -n 19 ninja -C "$build" >/dev/null
out=${FUZZ_OUT:-$(mktemp -d /tmp/shmq-fuzz.XXXXXX)}
found=0
for t in "${run[@]}"; do
	exe=$build/tests/fuzz/fuzz_$t
	if [ ! -x "$exe" ]; then
		echo "fuzz.sh: $exe missing (no libFuzzer? scripts/deps.sh --fuzz)" >&2
		exit 1
	fi
	# New inputs go into a copy, never into the tree; crashes into $out/$t/crashes.
	mkdir -p "$out/$t/corpus" "$out/$t/crashes"
	cp -n "$root/tests/fuzz/corpus/$t/"* "$out/$t/corpus/" 2>/dev/null || true
	args=(-max_total_time="$2" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
		-artifact_prefix="$out/$t/crashes/")
	[ "$t" = proto ] && args+=(-dict="$root/tests/fuzz/proto.dict" -max_len=4096)
	[ "$t" = segment ] && args+=(-max_len=32768)
	log=$out/$t/log
	rc=0
	(cd "$out/$t" && nice -n 19 "$exe" "${args[@]}" corpus) >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	crashes=$(find "$out/$t/crashes" -type f | wc -l)
	echo "fuzz $t: ${execs:-?} executions in $2 s, $crashes crashes (rc $rc; log $log)"
	[ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ] || found=1
done
exit $found
