#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A short libFuzzer run, as CI makes it: brief.sh TARGET-EXE CORPUS SECONDS [LIBFUZZER-ARGS...]
# Fuzzes a copy of CORPUS (new inputs never go into the tree) for SECONDS; fails on a crash,
# a leak, a timeout or an input that the target refuses to run (libFuzzer's non-zero exit).
set -euo pipefail
exe=$(realpath "$1") corpus=$(realpath "$2") secs=$3
shift 3
work=$(mktemp -d /tmp/shmq-fuzz-brief.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/crashes"
cp "$corpus"/* "$work/corpus/"
rc=0
(cd "$work" && "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$work/crashes/" "$@" corpus) >"$work/log" 2>&1 || rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
crashes=$(find "$work/crashes" -type f | wc -l)
echo "$(basename "$exe"): ${execs:-?} executions in $secs s, $crashes crashes (libFuzzer rc $rc)"
if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
	tail -n 60 "$work/log"
	for f in "$work/crashes"/*; do
		[ -f "$f" ] && { echo "crash input $(basename "$f"):"; od -A x -t x1z "$f" | head -20; }
	done
	exit 1
fi
