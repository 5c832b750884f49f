#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs examples/pubsub.c as the README says: a subscriber, then a publisher of more records
# than the log holds (so it waits for room), and the subscriber gets them all, then -EPIPE.
# test_pubsub.sh PUBSUB SHMQ
set -uo pipefail
pubsub=$1 shmq=$2 n=20000
export SHMQ_NAMESPACE=tex$$
out=$(mktemp)
sub=
cleanup() {
	[ -n "$sub" ] && kill "$sub" 2>/dev/null
	rm -f "$out" /dev/shm/shmq."$SHMQ_NAMESPACE".*
}
trap cleanup EXIT

timeout 60 "$pubsub" sub >"$out" &
sub=$!
for _ in $(seq 200); do # until it has joined: what it would miss otherwise is not lost
	"$shmq" stat example.ticks 2>/dev/null | grep -q 'subscribers 1,' && break
	sleep 0.05
done
"$shmq" stat example.ticks | grep -q 'subscribers 1,' || { echo "FAIL: no subscriber"; exit 1; }
"$pubsub" pub "$n" || { echo "FAIL: publisher exited $?"; exit 1; }
wait "$sub"
rc=$?
sub=
[ "$rc" -eq 0 ] || { echo "FAIL: subscriber exited $rc: $(cat "$out")"; exit 1; }
grep -qx "received $n, lost 0" "$out" || { echo "FAIL: subscriber said: $(cat "$out")"; exit 1; }
echo "ok: $(cat "$out")"
