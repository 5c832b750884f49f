#!/bin/sh
# SPDX-License-Identifier: MIT
# run-failover.sh - the failover measurements of docs/benchmarks.md: keep the JSON, print medians.
#
# usage: bench/run-failover.sh [RUNS [OUTDIR]]    (defaults: 3 runs, into $TMPDIR/shmq-failover-results)
# BENCH names the binary (default build/bench/shmq-bench). Each run is one whole invocation of
# 'shmq-bench failover --json' with FAILOVER_ARGS (default: --mode all, which includes the
# ack-wait mode: about 100 s per run at the default ack_wait of 1 s). This prints, per mode,
# the median over the runs of each percentile with the lowest and highest run, each run's
# p99, and the target's value per run.
set -eu

RUNS=${1:-3}
OUT=${2:-${TMPDIR:-/tmp}/shmq-failover-results}
BENCH=${BENCH:-build/bench/shmq-bench}
FAILOVER_ARGS=${FAILOVER_ARGS:---mode all}

if [ ! -x "$BENCH" ]; then
	echo "run-failover.sh: $BENCH not found; build first or set BENCH" >&2
	exit 1
fi
mkdir -p "$OUT"
rm -f "$OUT"/failover.*.jsonl

i=1
while [ "$i" -le "$RUNS" ]; do
	echo "run $i/$RUNS: failover $FAILOVER_ARGS" >&2
	# shellcheck disable=SC2086 # word splitting of the options is intended
	"$BENCH" failover --json $FAILOVER_ARGS >"$OUT/failover.$i.jsonl"
	i=$((i + 1))
done

awk '
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
function us(v) {
	return sprintf("%.1f", v / 1000)
}
get("bench") == "failover" && get("skipped") == "" {
	m = get("mode")
	if (!(m in seen)) { seen[m] = 1; order[++nm] = m }
	nf = split("p50_ns p99_ns p999_ns max_ns", f, " ")
	for (i = 1; i <= nf; i++) {
		k = m SUBSEP f[i]
		vals[k] = vals[k] " " get(f[i]); cnt[k]++
	}
	runs[m] = runs[m] " " us(get("p99_ns"))
	if (m == "daemon")
		freed = freed " " get("freed_by_shmqd") "/" get("count")
}
get("bench") == "target" {
	tname = get("name"); tv = tv " " get("value"); tr = tr " " get("result"); tc++
}
END {
	print "== failover: kill() to the survivor'\''s receive of the last record, us =="
	print "median over the runs (lowest-highest run)"
	nf = split("p50_ns p99_ns p999_ns max_ns", f, " ")
	for (j = 1; j <= nm; j++) {
		printf "%-9s", order[j]
		for (i = 1; i <= nf; i++) {
			k = order[j] SUBSEP f[i]
			mid = median(k, cnt[k])
			printf "  %s %s (%s-%s)", substr(f[i], 1, length(f[i]) - 3), us(mid),
			       us(lo[k]), us(hi[k])
		}
		printf "\n"
	}
	print ""
	for (j = 1; j <= nm; j++)
		printf "p99 per run, %s:%s\n", order[j], runs[order[j]]
	if (freed != "")
		printf "daemon kills where shmqd freed the victim first, per run:%s\n", freed
	if (tc) {
		vals["t"] = tv
		printf "target %s: median %.3f over %d runs (%.3f-%.3f);%s\n", tname,
		       median("t", tc), tc, lo["t"], hi["t"], tr
	}
}' "$OUT"/failover.*.jsonl
