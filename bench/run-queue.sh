#!/bin/sh
# SPDX-License-Identifier: MIT
# run-queue.sh - the work-queue measurements of docs/benchmarks.md: keep the JSON, print medians.
#
# usage: bench/run-queue.sh [RUNS [OUTDIR]]    (defaults: 3 runs, into $TMPDIR/shmq-queue-results)
# BENCH names the binary (default build/bench/shmq-bench). BEFORE, when set, names a binary
# built from the commit before the queue benchmarks: 'quick' then runs on both, alternating,
# to show that the existing paths did not move. Per run, in this order: shmq-bench queue,
# quick (BEFORE's, then BENCH's), throughput -t shmq-topic,shmq-queue -s 64 and
# pingpong -t shmq-topic,shmq-queue -s 64. Each is a whole invocation (itself a median of
# its --reps); this prints, per row, the median over the runs and the lowest and highest.
# QUEUE_ARGS adds options to the queue command.
set -eu

RUNS=${1:-3}
OUT=${2:-${TMPDIR:-/tmp}/shmq-queue-results}
BENCH=${BENCH:-build/bench/shmq-bench}
BEFORE=${BEFORE:-}

for b in "$BENCH" $BEFORE; do
	if [ ! -x "$b" ]; then
		echo "run-queue.sh: $b not found; build first or set BENCH, BEFORE" >&2
		exit 1
	fi
done
mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl

i=1
while [ "$i" -le "$RUNS" ]; do
	echo "run $i/$RUNS: queue" >&2
	# shellcheck disable=SC2086 # word splitting of the extra options is intended
	"$BENCH" queue --json ${QUEUE_ARGS:-} >"$OUT/queue.$i.jsonl"
	if [ -n "$BEFORE" ]; then
		echo "run $i/$RUNS: quick (before)" >&2
		"$BEFORE" quick --json >"$OUT/quick-before.$i.jsonl"
	fi
	echo "run $i/$RUNS: quick" >&2
	"$BENCH" quick --json >"$OUT/quick.$i.jsonl"
	echo "run $i/$RUNS: throughput" >&2
	"$BENCH" throughput -t shmq-topic,shmq-queue -s 64 --json >"$OUT/throughput.$i.jsonl"
	echo "run $i/$RUNS: pingpong" >&2
	"$BENCH" pingpong -t shmq-topic,shmq-queue -s 64 --json >"$OUT/pingpong.$i.jsonl"
	i=$((i + 1))
done

# summarize FILE BENCH KEYS FIELDS: in $OUT/FILE.*.jsonl, the rows of "bench":BENCH, one per
# value of the comma-separated KEYS, with the median (lowest-highest) over the runs of each
# of FIELDS; then every target's value.
summarize() {
	awk -v want="$2" -v keys="$3" -v fields="$4" '
	function get(key,    m) {
		if (!match($0, "\"" key "\":\"?[^,}\"]*"))
			return ""
		m = substr($0, RSTART, RLENGTH)
		sub("^\"" key "\":\"?", "", m)
		return m
	}
	function fmt(v) {
		return v + 0 >= 1000 ? sprintf("%.0f", v) : sprintf("%.3g", v)
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
	get("bench") == want {
		nk = split(keys, kk, ",")
		id = ""
		for (i = 1; i <= nk; i++) id = id (i > 1 ? " " : "") kk[i] "=" get(kk[i])
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
		for (j = 1; j <= nid; j++) {
			printf "%-34s", order[j]
			for (i = 1; i <= nf; i++) {
				k = order[j] SUBSEP f[i]
				m = median(k, cnt[k])
				printf "  %s %s (%s-%s)", f[i], fmt(m), fmt(lo[k]), fmt(hi[k])
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

echo "== queue: one-process cost, ns per record =="
summarize queue queue-cost size sub_recv_ns,recv_ack_ns,ratio
echo
echo "== queue: work-queue throughput with acks, msg/s =="
summarize queue queue-throughput size,members msgs_per_s | grep -v '^target'
summarize queue queue-baseline transport msgs_per_s | grep -v '^target'
echo
echo "== queue: recv+ack round trip, ns =="
summarize queue queue-rtt transport,size p50_ns,p99_ns,p999_ns,max_ns |
	grep -v '^target'
echo
if [ -n "$BEFORE" ]; then
	echo "== quick, before: RTT ns =="
	summarize quick-before pingpong transport p50_ns,p99_ns | grep -v '^target'
	echo
fi
echo "== quick: RTT ns =="
summarize quick pingpong transport p50_ns,p99_ns | grep -v '^target'
echo
echo "== throughput -t shmq-topic,shmq-queue -s 64, msg/s =="
summarize throughput throughput transport msgs_per_s | grep -v '^target'
echo
echo "== pingpong -t shmq-topic,shmq-queue -s 64, RTT ns =="
summarize pingpong pingpong transport p50_ns,p99_ns,p999_ns,max_ns |
	grep -v '^target'
