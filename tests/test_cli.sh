#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The shmq tool's exit codes and messages: help and version on stdout with 0, usage errors on
# stderr with 2, failures naming the namespace and the object with 1; ls and stat of the
# objects MAKE_OBJECTS leaves, and of a foreign file. test_cli.sh SHMQ MAKE_OBJECTS
set -uo pipefail
shmq=$1 make_objects=$2
ns=tcli$$ objs=tclo$$
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err" /dev/shm/shmq."$objs".*' EXIT
fails=0

# expect RC STDOUT-PATTERN STDERR-PATTERN -- ARGS...: an empty pattern means an empty stream.
expect() {
	local rc=$1 want_out=$2 want_err=$3 got
	shift 4
	"$shmq" "$@" >"$out" 2>"$err"
	got=$?
	if [ "$got" -ne "$rc" ] || ! matches "$out" "$want_out" || ! matches "$err" "$want_err"; then
		echo "FAIL: shmq $* -> exit $got (want $rc)"
		echo "  stdout: $(cat "$out")"
		echo "  stderr: $(cat "$err")"
		fails=$((fails + 1))
	else
		echo "ok: shmq $*"
	fi
}

matches() {
	if [ -z "$2" ]; then
		[ ! -s "$1" ]
	else
		grep -qF -- "$2" "$1"
	fi
}

expect 0 'usage: shmq [-h] [-V] COMMAND' '' -- -h
expect 0 'usage: shmq [-h] [-V] COMMAND' '' -- --help
expect 0 'shmq 0.1.0' '' -- -V
expect 0 'shmq 0.1.0' '' -- --version
expect 0 'usage: shmq stat [-h] [-n NS] [-o table|json] [-g GROUP] NAME' '' -- stat -h
expect 0 'usage: shmq stat [-h] [-n NS] [-o table|json] [-g GROUP] NAME' '' -- stat --help
expect 0 'usage: shmq ls [-h] [-n NS]' '' -- ls -h
expect 0 '  ls            the objects of a namespace' '' -- -h
expect 0 'usage: shmq info' '' -- info --help
expect 0 'wake backend:' '' -- info

expect 2 '' 'shmq: no COMMAND given' --
expect 2 '' "shmq: unknown command 'frob'" -- frob
expect 2 '' "shmq: unknown option '-q'" -- -q
expect 2 '' "shmq stat: unknown option '-x'" -- stat -x X
expect 2 '' "shmq stat: unknown option '--bogus'" -- stat --bogus X
expect 2 '' "shmq stat: missing the argument of '-n'" -- stat -n
expect 2 '' "shmq stat: missing the argument of '--namespace'" -- stat --namespace
expect 2 '' "usage: shmq stat" -- stat
expect 2 '' 'shmq stat: no NAME given' -- stat
expect 2 '' "shmq stat: unexpected argument 'b'" -- stat a b
expect 2 '' "shmq info: unexpected argument 'x'" -- info x
expect 2 '' "shmq ls: unexpected argument 'x'" -- ls x
expect 2 '' "shmq ls: unknown option '-q'" -- ls -q

expect 1 '' "shmq: stat 'X' in namespace '$ns': No such object (" -- stat -n "$ns" X
expect 1 '' "shmq: stat 'X' in namespace '$ns': No such object (" -- stat --namespace "$ns" X
expect 1 '' "shmq: stat 'a b' in namespace '$ns': Invalid argument" -- stat -n "$ns" 'a b'
expect 1 '' "bad name: ' ' at offset 1 is not allowed (1-200 chars of [A-Za-z0-9_.-]" -- \
	stat -n "$ns" 'a b'
expect 1 '' "shmq: namespace 'a.b': Invalid argument" -- stat -n a.b X
expect 1 '' "bad namespace: '.' at offset 1 is not allowed" -- stat -n a.b X
expect 1 '' "shmq: namespace 'a.b': Invalid argument" -- ls -n a.b
SHMQ_NAMESPACE=$ns expect 1 '' "in namespace '$ns': No such object" -- stat X
SHMQ_NAMESPACE=bad/ns expect 1 '' 'bad namespace from $SHMQ_NAMESPACE' -- stat X

# ls and stat of real objects, and of a foreign file with the namespace's prefix
expect 0 '' '' -- ls -n "$ns" # an empty namespace: nothing
"$make_objects" "$objs" || { echo "FAIL: make_objects"; exit 1; }
head -c 200 /dev/urandom >/dev/shm/shmq."$objs".junk
printf 'x' >/dev/shm/shmq."$objs".tiny
expect 0 'chan      channel' '' -- ls -n "$objs"
expect 0 'top       topic' '' -- ls -n "$objs"
expect 0 'top@work  consumer group' '' -- ls -n "$objs"
expect 0 'junk      unknown' '' -- ls -n "$objs"
expect 0 '  (not a shmq segment (wrong magic))' '' -- ls -n "$objs"
expect 0 '  (1 bytes, too small for a header)' '' -- ls -n "$objs"
expect 0 'producers 0, subscribers 0' '' -- ls -n "$objs"
expect 0 'members 0' '' -- ls -n "$objs"
expect 0 "$(id -un)" '' -- ls -n "$objs"
SHMQ_NAMESPACE=$objs expect 0 'top@work  consumer group' '' -- ls
"$shmq" ls -n "$objs" | head -1 | grep -q '^chan ' || { echo "FAIL: ls not sorted"; fails=$((fails + 1)); }
[ "$("$shmq" ls -n "$objs" | wc -l)" -eq 5 ] || { echo "FAIL: ls lines"; fails=$((fails + 1)); }
expect 0 'channel chan: capacity 4096, max_msg 1984, write_pos 192, read_pos 64, in the ring 128 bytes, next_seq 4, producer none, consumer none' '' -- \
	stat -n "$objs" chan
expect 0 'topic top: reliable, 1024 slots' '' -- stat -n "$objs" top
expect 0 '{"name":"chan","kind":"channel","capacity":4096,"max_msg":1984,"write_pos":192' '' -- \
	stat -n "$objs" -o json chan
expect 0 '{"name":"top","kind":"topic","policy":"reliable","slots":1024,' '' -- stat -o json -n "$objs" top
expect 0 '{"name":"top@work","kind":"consumer group",' '' -- ls -n "$objs" -o json
expect 0 '"error":"not a shmq segment (wrong magic)"' '' -- ls -n "$objs" -o json
[ "$("$shmq" ls -n "$objs" -o json | wc -l)" -eq 5 ] || { echo "FAIL: ls -o json lines"; fails=$((fails + 1)); }
expect 0 '  group work: floor 1' '' -- stat -n "$objs" top
expect 1 '' "shmq: stat 'junk' in namespace '$objs': " -- stat -n "$objs" junk
expect 1 '' "not a shmq segment (wrong magic)" -- stat -n "$objs" junk
expect 1 '' "shmq: stat 'top@work' in namespace '$objs': Invalid argument" -- stat -n "$objs" top@work

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
