#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs examples/worker.c as its comment says: a producer of jobs, then two workers; every job
# but the poison one is acked exactly once, the poison one is dead-lettered, and both
# workers stop on their own once the producer is gone and nothing is owed.
# test_worker.sh WORKER SHMQ
set -uo pipefail
worker=$1 shmq=$2 n=20000
export SHMQ_NAMESPACE=twk$$
out1=$(mktemp) out2=$(mktemp)
w1= w2=
cleanup() {
	[ -n "$w1" ] && kill "$w1" 2>/dev/null
	[ -n "$w2" ] && kill "$w2" 2>/dev/null
	rm -f "$out1" "$out2" /dev/shm/shmq."$SHMQ_NAMESPACE".*
}
trap cleanup EXIT

"$worker" produce "$n" &
prod=$!
for _ in $(seq 200); do # the group exists once the producer made it
	[ -e /dev/shm/shmq."$SHMQ_NAMESPACE".example.jobs@workers ] && break
	sleep 0.05
done
timeout 60 "$worker" work >"$out1" &
w1=$!
timeout 60 "$worker" work >"$out2" &
w2=$!
wait "$prod" || { echo "FAIL: producer exited $?"; exit 1; }
wait "$w1"; rc1=$?; w1=
wait "$w2"; rc2=$?; w2=
[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ] || { echo "FAIL: workers exited $rc1, $rc2"; exit 1; }
d1=$(sed -n 's/^done \([0-9]*\),.*/\1/p' "$out1")
d2=$(sed -n 's/^done \([0-9]*\),.*/\1/p' "$out2")
[ $((d1 + d2)) -eq $((n - 1)) ] || { echo "FAIL: done $d1 + $d2, want $((n - 1))"; exit 1; }
"$shmq" stat example.jobs.dlq | grep -q 'tail 2,' || {
	echo "FAIL: dead letters: $("$shmq" stat example.jobs.dlq)"
	exit 1
}
"$shmq" group example.jobs workers | grep -q "acked $((n - 1)), " || {
	echo "FAIL: group stat: $("$shmq" group example.jobs workers)"
	exit 1
}
"$shmq" dlq ls | grep -qx 'example.jobs.dlq  records 1 (seq 1 to 1)' || {
	echo "FAIL: dlq ls: $("$shmq" dlq ls)"
	exit 1
}
"$shmq" dlq peek example.jobs.dlq | grep -q '^1  from example.jobs seq 13, group workers, max-deliveries, failed ' || {
	echo "FAIL: dlq peek: $("$shmq" dlq peek example.jobs.dlq)"
	exit 1
}
"$shmq" dlq peek -o json example.jobs.dlq | python3 -c '
import json, sys
o = json.loads(sys.stdin.readline())
assert o["topic"] == "example.jobs" and o["origin_seq"] == 13 and o["group"] == "workers", o
assert o["encoding"] == "base64" and o["len"] == len(__import__("base64").b64decode(o["payload"])), o
' || { echo "FAIL: dlq peek -o json"; exit 1; }
"$shmq" dlq peek example.jobs.dlq | grep -q '^1  from' || { echo "FAIL: dlq peek consumed"; exit 1; }
"$shmq" redrive example.jobs.dlq | grep -qx 'moved 1' || { echo "FAIL: redrive"; exit 1; }
"$shmq" dlq ls | grep -qx 'example.jobs.dlq  records 0' || { echo "FAIL: dlq ls after redrive"; exit 1; }
[ -z "$("$shmq" dlq peek example.jobs.dlq)" ] || { echo "FAIL: dlq peek after redrive"; exit 1; }
"$shmq" group example.jobs workers | grep -q "tail $((n + 2)), " || {
	echo "FAIL: job 13 not back: $("$shmq" group example.jobs workers)"
	exit 1
}
"$shmq" group-delete example.jobs workers || { echo "FAIL: group-delete"; exit 1; }
echo "ok: workers did $d1 and $d2 jobs; job 13 was dead-lettered, and redriven"
