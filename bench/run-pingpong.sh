#!/bin/sh
# SPDX-License-Identifier: MIT
# run-pingpong.sh - repeat the pingpong and throughput benchmarks; keep the JSON, print medians.
#
# usage: bench/run-pingpong.sh [RUNS [OUTDIR]]    (defaults: 3 runs, into $TMPDIR/shmq-bench-results)
# BENCH names the binary (default build/bench/shmq-bench); PINGPONG_ARGS and THROUGHPUT_ARGS
# add options. Each run is a whole shmq-bench invocation (itself a median of --reps
# interleaved repetitions); this prints, per transport and size, the median over the runs
# and the lowest and highest run, so that run-to-run noise is visible too.
set -eu

RUNS=${1:-3}
OUT=${2:-${TMPDIR:-/tmp}/shmq-bench-results}
BENCH=${BENCH:-build/bench/shmq-bench}

if [ ! -x "$BENCH" ]; then
	echo "run-pingpong.sh: $BENCH not found; build first or set BENCH" >&2
	exit 1
fi
mkdir -p "$OUT"

i=1
while [ "$i" -le "$RUNS" ]; do
	echo "run $i/$RUNS: pingpong" >&2
	# shellcheck disable=SC2086 # word splitting of the extra options is intended
	"$BENCH" pingpong --json ${PINGPONG_ARGS:-} >"$OUT/pingpong.$i.jsonl"
	echo "run $i/$RUNS: throughput" >&2
	# shellcheck disable=SC2086
	"$BENCH" throughput --json ${THROUGHPUT_ARGS:-} >"$OUT/throughput.$i.jsonl"
	i=$((i + 1))
done

# Median (and min, max) over the runs of each numeric field of each transport and size.
summarize() {
	awk -v fields="$2" '
	function get(key,    m) {
		if (!match($0, "\"" key "\":\"?[^,}\"]*"))
			return ""
		m = substr($0, RSTART, RLENGTH)
		sub("^\"" key "\":\"?", "", m)
		return m
	}
	function median(k, n,    i, j, t, a) {
		split(vals[k], a, " ")
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		lo[k] = a[1]; hi[k] = a[n]
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	get("bench") == "'"$1"'" {
		id = get("transport") " " get("size")
		if (!(id in seen)) { seen[id] = 1; order[++nid] = id }
		nf = split(fields, f, ",")
		for (i = 1; i <= nf; i++) {
			k = id SUBSEP f[i]
			vals[k] = vals[k] " " get(f[i]); cnt[k]++
		}
	}
	get("bench") == "target" {
		k = get("name")
		if (!(k in tseen)) { tseen[k] = 1; torder[++nt] = k }
		tv[k] = tv[k] " " get("value"); tc[k]++; tr[k] = tr[k] " " get("result")
	}
	END {
		nf = split(fields, f, ",")
		printf "%-16s %6s", "transport", "size"
		for (i = 1; i <= nf; i++) printf " %22s", f[i] " (lo-hi)"
		printf "\n"
		for (j = 1; j <= nid; j++) {
			split(order[j], p, " ")
			printf "%-16s %6s", p[1], p[2]
			for (i = 1; i <= nf; i++) {
				k = order[j] SUBSEP f[i]
				m = median(k, cnt[k])
				printf " %22s", sprintf("%.0f (%.0f-%.0f)", m, lo[k], hi[k])
			}
			printf "\n"
		}
		for (j = 1; j <= nt; j++) {
			k = torder[j]; vals[k] = tv[k]
			printf "target %s: median %.3f over %d runs (%.3f-%.3f);%s\n", k,
			       median(k, tc[k]), tc[k], lo[k], hi[k], tr[k]
		}
	}' "$OUT"/"$1".*.jsonl
}

echo "== pingpong: RTT ns, median over $RUNS runs =="
summarize pingpong p50_ns,p99_ns,p999_ns,max_ns
echo
echo "== throughput: median over $RUNS runs =="
summarize throughput msgs_per_s,mb_per_s
