#!/bin/sh
# SPDX-License-Identifier: MIT
# run-req.sh - the request/reply and header measurements of docs/benchmarks.md: keep the
# JSON, print medians.
#
# usage: bench/run-req.sh [RUNS [OUTDIR]]    (defaults: 5 runs, into $TMPDIR/shmq-req-results)
# BENCH names the binary (default build/bench/shmq-bench). BEFORE, when set, names binaries
# (space-separated) built from older commits, e.g. the one before record headers landed:
# 'quick' and 'pingpong -t shmq-topic,shmq-topic-excl,shmq-spsc -s 64' then run on each of
# them and on BENCH, alternating, to show what moved on the paths without headers.
# Per run: pingpong -t shmq-topic,shmq-topic-hdrs,shmq-req,shmq-req-park,shmq-spsc-park
# -s 64 (the target shmq-req/shmq-topic p50 <= 1.5, and what a header costs when used),
# then, with BEFORE, quick and the topic ping-pong on every binary. Each is a whole
# invocation (itself a median of its --reps); this prints, per row, the median over the runs
# and the lowest and highest. PP_ARGS replaces the ping-pong's counts (default
# -n 20000 -w 2000 -r 3: seconds per invocation).
set -eu

RUNS=${1:-5}
OUT=${2:-${TMPDIR:-/tmp}/shmq-req-results}
BENCH=${BENCH:-build/bench/shmq-bench}
BEFORE=${BEFORE:-}
PP_ARGS=${PP_ARGS:--n 20000 -w 2000 -r 3}
REQ_SET=shmq-topic,shmq-topic-hdrs,shmq-req,shmq-req-park,shmq-spsc-park
TOPIC_SET=shmq-topic,shmq-topic-excl,shmq-spsc

for b in "$BENCH" $BEFORE; do
	if [ ! -x "$b" ]; then
		echo "run-req.sh: $b not found; build first or set BENCH, BEFORE" >&2
		exit 1
	fi
done
mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl

i=1
while [ "$i" -le "$RUNS" ]; do
	echo "run $i/$RUNS: pingpong $REQ_SET" >&2
	# shellcheck disable=SC2086 # word splitting of the counts is intended
	"$BENCH" pingpong -t "$REQ_SET" -s 64 $PP_ARGS --json >"$OUT/req.$i.jsonl"
	n=0
	for b in $BEFORE "$BENCH"; do
		n=$((n + 1))
		echo "run $i/$RUNS: quick and pingpong $TOPIC_SET, $b" >&2
		"$b" quick --json >"$OUT/quick-$n.$i.jsonl"
		# shellcheck disable=SC2086
		"$b" pingpong -t "$TOPIC_SET" -s 64 $PP_ARGS --json >"$OUT/topic-$n.$i.jsonl"
	done
	i=$((i + 1))
done

# summarize FILE BENCH KEYS FIELDS: in $OUT/FILE.*.jsonl, the rows of "bench":BENCH, one per
# value of the comma-separated KEYS, with the median (lowest-highest) over the runs of each
# of FIELDS; then every target's value (SKIPs left out).
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
	get("bench") == "target" && get("result") != "SKIP" {
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

# ratio FILE RATIO: the median (lowest-highest) over the runs of a pingpong-ratio key.
ratio() {
	for f in "$OUT"/"$1".*.jsonl; do
		sed -n 's/.*"'"$2"'":\([0-9.]*\).*/\1/p' "$f"
	done | sort -n | awk -v k="$2" '{ a[++n] = $1 }
	END { if (n) printf "%s: median %.3f over %d runs (%.3f-%.3f)\n", k,
		n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2, n, a[1], a[n] }'
}

echo "== pingpong -t $REQ_SET -s 64: RTT ns =="
summarize req pingpong transport p50_ns,p99_ns,p999_ns,max_ns
for k in req_over_topic_p50 topic_hdrs_over_topic_p50 req_park_over_spsc_park_p50; do
	ratio req "$k"
done
n=0
for b in $BEFORE "$BENCH"; do
	n=$((n + 1))
	echo
	echo "== $b: quick, RTT ns =="
	summarize "quick-$n" pingpong transport p50_ns,p99_ns,p999_ns | grep -v '^target'
	for k in spsc_over_raw_p50 topic_over_raw_p50 topic_excl_over_raw_p50; do
		ratio "quick-$n" "$k"
	done
	echo "== $b: pingpong -t $TOPIC_SET -s 64, RTT ns =="
	summarize "topic-$n" pingpong transport p50_ns,p99_ns,p999_ns,max_ns | grep -v '^target'
	ratio "topic-$n" topic_over_spsc_p50
done
