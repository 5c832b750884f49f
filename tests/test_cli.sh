#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The shmq tool's exit codes and messages: help and version on stdout with 0, usage errors on
# stderr with 2, failures naming the namespace and the object with 1. test_cli.sh SHMQ
set -uo pipefail
shmq=$1
ns=tcli$$
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
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
expect 0 'usage: shmq stat [-h] [-n NS] TOPIC' '' -- stat -h
expect 0 'usage: shmq stat [-h] [-n NS] TOPIC' '' -- stat --help
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
expect 2 '' 'shmq stat: no TOPIC given' -- stat
expect 2 '' "shmq stat: unexpected argument 'b'" -- stat a b
expect 2 '' "shmq info: unexpected argument 'x'" -- info x

expect 1 '' "shmq: stat topic 'X' in namespace '$ns': No such object (" -- stat -n "$ns" X
expect 1 '' "shmq: stat topic 'X' in namespace '$ns': No such object (" -- stat --namespace "$ns" X
expect 1 '' "shmq: stat topic 'a b' in namespace '$ns': Invalid argument" -- stat -n "$ns" 'a b'
expect 1 '' "bad name: ' ' at offset 1 is not allowed (1-200 chars of [A-Za-z0-9_.-]" -- \
	stat -n "$ns" 'a b'
expect 1 '' "shmq: namespace 'a.b': Invalid argument" -- stat -n a.b X
expect 1 '' "bad namespace: '.' at offset 1 is not allowed" -- stat -n a.b X
SHMQ_NAMESPACE=$ns expect 1 '' "in namespace '$ns': No such object" -- stat X
SHMQ_NAMESPACE=bad/ns expect 1 '' 'bad namespace from $SHMQ_NAMESPACE' -- stat X

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
