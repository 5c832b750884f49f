#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The shmq tool's req and reply through the built binary: an echo responder and its replies as
# lines and as JSON, --stdin, --exec (a command's output, a failing command, a too-large reply),
# scatter-gather over --all responders, --count and SIGTERM ends (a taken request redelivered),
# and the exit statuses of no responder (1), no reply in time (4) and usage errors (2).
# test_cli_service.sh SHMQ
set -uo pipefail
. "$(dirname "$0")/cli_common.sh" "$1" tcsv

# responder NAME SERVICE ARGS...: "shmq reply SERVICE ARGS" in the background (its pid in $bg,
# its stderr in $dir/NAME.err), once it is there: a member of the service's group, or with
# --all a subscriber of its topic (10 s at most).
responder() {
	local name=$1 svc=$2 i
	shift
	"$shmq" reply "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
	bg=$!
	pids+=("$bg")
	for i in $(seq 200); do
		{ "$shmq" stat "$svc"; "$shmq" group "$svc" service; } >"$dir/stat" 2>/dev/null
		grep -qE "(subscriber|member) pid $bg:" "$dir/stat" && return 0
		sleep 0.05
	done
	echo "FAIL: responder $name never joined: $(cat "$dir/$name.err")"
	fails=$((fails + 1))
}

# stop PID: SIGTERM, and its exit status checked (0: a clean end).
stop() {
	local rc
	kill "$1"
	wait "$1"
	rc=$?
	[ "$rc" -eq 0 ] || fail "responder $1 after SIGTERM: exit $rc"
}

# no service yet: 1, and said so
expect 1 '' "shmq: open service 'echo' in namespace '$SHMQ_NAMESPACE': No such object" -- req echo hi
expect 1 '' "shmq: open service 'echo' in namespace '$SHMQ_NAMESPACE': No such object" -- \
	reply echo --echo

# an echo responder: a line per reply, JSON, --stdin; it stays for requester after requester
responder echo echo --create --echo
echo_pid=$bg
expect 0 'hello' '' -- req echo hello
[ "$(cat "$out")" = hello ] || fail "req echo hello: '$(cat "$out")'"
for i in 1 2 3; do expect 0 "again $i" '' -- req echo "again $i"; done
"$shmq" req -o json echo 'with "quotes"' >"$out" 2>"$err"
python3 - "$out" <<'EOF' || fail "req -o json"
import json, sys
r = json.loads(open(sys.argv[1]).read())
assert r == {"service": "echo", "len": 13, "payload": 'with "quotes"'}, r
EOF
printf 'one\ntwo\n\377\376\n' | "$shmq" req --stdin -j echo >"$out" 2>"$err"
python3 - "$out" <<'EOF' || fail "req --stdin -j"
import json, sys
r = [json.loads(line) for line in open(sys.argv[1])]
assert [x["payload"] for x in r] == ["one", "two", "//4="], r
assert [x.get("encoding") for x in r] == [None, None, "base64"], r
EOF
printf 'a\nb\n' | "$shmq" req --stdin echo >"$out" 2>"$err"
[ "$(cat "$out")" = $'a\nb' ] || fail "req --stdin: '$(cat "$out")'"
# idle between requests: parked, not spinning
sleep 1
cpu=$(ps -o times= -p "$echo_pid" | tr -d ' ')
[ "${cpu:-99}" -lt 1 ] || fail "an idle responder used $cpu s of CPU"
stop "$echo_pid"
# its group is still there, with no member: no responder, at once
expect 1 '' "shmq: no responder for service 'echo' in namespace '$SHMQ_NAMESPACE'" -- req echo hi

# --exec: a command's output (less its trailing newline) is the reply
responder up up --create --exec 'tr a-z A-Z'
up_pid=$bg
expect 0 'HELLO WORLD' '' -- req up 'hello world'
stop "$up_pid"
responder fails up --exec 'echo "out: $(cat)"; exit 3'
fails_pid=$bg
expect 0 'out: q' '' -- req up q
[ "$(cat "$out")" = 'out: q' ] || fail "a line of output: '$(cat "$out")'"
grep -qF "exited 3 (its output is the reply)" "$dir/fails.err" || fail "a failing CMD: not said"
stop "$fails_pid"
# a reply over the service's max_msg (976): not sent; the requester is told (1)
responder big up --exec 'head -c 2000 /dev/zero'
big_pid=$bg
expect 1 '' "shmq: request to service 'up' in namespace '$SHMQ_NAMESPACE': " -- req up q
grep -qF "a reply over 976 bytes" "$dir/big.err" || fail "a too-large reply: not said"
stop "$big_pid"
# input larger than a pipe's buffer, echoed as it is read: no deadlock
expect 0 '' '' -- pub --create --max-msg 200000 bigsvc --count 0
responder cat bigsvc --exec cat
cat_pid=$bg
{ head -c 150000 /dev/zero | tr '\0' x; echo; } | "$shmq" req -t 10s --stdin bigsvc >"$out" 2>"$err" &&
	[ "$(wc -c <"$out")" -eq 150001 ] || fail "--exec cat of 150000 bytes"
stop "$cat_pid"

# no reply in time: 4, after about the time asked
responder slow slow --create --exec 'sleep 5'
slow_pid=$bg
start=$(date +%s%N)
expect 4 '' "shmq: request to service 'slow': no reply in time" -- req -t 300ms slow x
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -ge 280 ] && [ "$ms" -lt 3000 ] || fail "req -t 300ms took $ms ms"
# SIGTERM while CMD runs: it ends at once, CMD with it
sleep 0.2
start=$(date +%s%N)
stop "$slow_pid"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 2000 ] || fail "a responder running CMD took $ms ms to end at SIGTERM"

# SIGTERM with a request taken: the group redelivers it to the next responder, which answers
responder hold redo --create --exec 'sleep 10'
hold_pid=$bg
"$shmq" req -t 8s redo again >"$dir/redo.out" 2>&1 &
req_pid=$!
pids+=("$req_pid")
for i in $(seq 200); do
	"$shmq" group redo service 2>/dev/null | grep -qF "member pid $hold_pid: in flight 1" && break
	sleep 0.05
done
responder take redo --echo --count 1
take_pid=$bg
stop "$hold_pid"
wait "$req_pid"
rc=$?
[ "$rc" -eq 0 ] && [ "$(cat "$dir/redo.out")" = again ] ||
	fail "a request redelivered after SIGTERM: exit $rc: $(cat "$dir/redo.out")"
wait "$take_pid" || fail "the responder that took the redelivered request: exit $?"

# --count: two requests, then the responder ends by itself (0)
responder counted counted --create --echo --count 2
counted_pid=$bg
expect 0 'x1' '' -- req counted x1
expect 0 'x2' '' -- req counted x2
wait "$counted_pid"
rc=$?
[ "$rc" -eq 0 ] || fail "reply --count 2: exit $rc: $(cat "$dir/counted.err")"

# scatter-gather: two --all responders, each reply printed; fewer than asked by the timeout
responder all1 fan --create --all --echo
a1=$bg
responder all2 fan --all --exec 'tr a-z A-Z'
a2=$bg
expect 0 'ping' '' -- req --replies 2 fan ping
grep -qxF PING "$out" && [ "$(wc -l <"$out")" -eq 2 ] || fail "req --replies 2: $(cat "$out")"
"$shmq" req --replies 3 -t 300ms -o json fan ab >"$out" 2>"$err" || fail "req --replies 3"
python3 - "$out" <<'EOF' || fail "req --replies 3 -o json"
import json, sys
r = [json.loads(line) for line in open(sys.argv[1])]
assert sorted(x["payload"] for x in r) == ["AB", "ab"], r
EOF
stop "$a1"
stop "$a2"
expect 1 '' "shmq: no responder for service 'fan'" -- req --replies 2 fan ping

# usage errors: 2
expect 2 '' "shmq req: no SERVICE given" -- req
expect 2 '' "shmq req: give one of BODY and --stdin" -- req echo
expect 2 '' "shmq req: give one of BODY and --stdin" -- req --stdin echo body
expect 2 '' "shmq req: --timeout: not a duration" -- req -t 5x echo hi
expect 2 '' "shmq req: --replies: not between 1 and 1024: '0'" -- req --replies 0 echo hi
expect 2 '' "shmq req: --replies: not a number: 'x'" -- req --replies x echo hi
expect 2 '' "shmq req: unexpected argument 'c'" -- req echo a c
expect 2 '' "shmq req: unknown option '--bogus'" -- req --bogus echo hi
expect 2 '' "shmq reply: give one of --echo and --exec CMD" -- reply echo
expect 2 '' "shmq reply: give one of --echo and --exec CMD" -- reply echo --echo --exec cat
expect 2 '' "shmq reply: no SERVICE given" -- reply --echo
expect 2 '' "shmq reply: missing the argument of '--exec'" -- reply echo --exec
expect 2 '' "shmq reply: --count: not a number: 'x'" -- reply echo --echo -c x
expect 0 'usage: shmq req' '' -- req -h
expect 0 'usage: shmq reply' '' -- reply --help
expect 0 'req ' '' -- -h
grep -qE '^  reply +' "$out" || fail "shmq -h: no reply command"

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
