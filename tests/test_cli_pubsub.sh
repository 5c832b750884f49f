#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The shmq tool's pub, sub, hz, lat, rm, dlq, group and doctor through the built binary: round
# trips in order, JSON parsed by python3, wildcard and group subscribers, waiting for room and
# for subscribers, the ends of a subscription (count, timeout: 4, producers gone: 0), exit
# statuses of wrong names (1), bad options (2) and an unreachable required daemon (3).
# test_cli_pubsub.sh SHMQ
set -uo pipefail
shmq=$1
export SHMQ_NAMESPACE=tcps$$ SHMQ_DAEMON=off
dir=$(mktemp -d)
out=$dir/out err=$dir/err
bg=
cleanup() {
	[ -n "$bg" ] && kill "$bg" 2>/dev/null
	[ -S "$dir/tmux" ] && tmux -S "$dir/tmux" kill-server </dev/null >/dev/null 2>&1
	rm -rf "$dir" /dev/shm/shmq."$SHMQ_NAMESPACE".*
}
trap cleanup EXIT
fails=0

fail() {
	echo "FAIL: $*"
	echo "  stdout: $(head -c 2000 "$out")"
	echo "  stderr: $(head -c 2000 "$err")"
	fails=$((fails + 1))
}

# expect RC STDOUT-PATTERN STDERR-PATTERN -- ARGS...: an empty pattern means any output.
expect() {
	local rc=$1 want_out=$2 want_err=$3 got
	shift 4
	"$shmq" "$@" >"$out" 2>"$err"
	got=$?
	if [ "$got" -ne "$rc" ] || { [ -n "$want_out" ] && ! grep -qF -- "$want_out" "$out"; } ||
		{ [ -n "$want_err" ] && ! grep -qF -- "$want_err" "$err"; }; then
		fail "shmq $* -> exit $got (want $rc)"
	else
		echo "ok: shmq $*"
	fi
}

# wait_for PATTERN ARGS...: until "shmq ARGS" prints PATTERN (10 s at most).
wait_for() {
	local want=$1 i
	shift
	for i in $(seq 200); do
		"$shmq" "$@" 2>/dev/null | grep -qF -- "$want" && return 0
		sleep 0.05
	done
	echo "FAIL: shmq $* never printed '$want'"
	fails=$((fails + 1))
}

# seq_lines N FILE: FILE is exactly "1 1" .. "N N" (the default format: seq, payload).
seq_lines() {
	local i
	for ((i = 1; i <= $1; i++)); do echo "$i $i"; done | cmp -s - "$2"
}

# round trip: 100 records in, 100 out, in order
expect 0 '' '' -- pub --create --slots 256 rt --count 100
"$shmq" sub --from earliest --count 100 rt >"$out" 2>"$err" && seq_lines 100 "$out" ||
	fail "sub --from earliest --count 100 did not give 1..100 in order"
expect 0 '' '' -- sub --from 90 --count 11 rt
[ "$(head -1 "$out")" = "90 90" ] && [ "$(wc -l <"$out")" -eq 11 ] || fail "sub --from 90"

# JSON lines, parsed
"$shmq" sub -o json --from earliest --count 100 rt >"$out" 2>"$err"
python3 - "$out" <<'EOF' || fail "sub -o json"
import json, sys
recs = [json.loads(line) for line in open(sys.argv[1])]
assert [r["seq"] for r in recs] == list(range(1, 101)), "seqs"
assert [r["payload"] for r in recs] == [str(i) for i in range(1, 101)], "payloads"
assert all(r["topic"] == "rt" and r["len"] == len(r["payload"]) and "encoding" not in r
           for r in recs), "fields"
assert all(r["producer"] == recs[0]["producer"] > 0 for r in recs), "producer"
assert all(r["time"].endswith("Z") for r in recs), "time"
EOF
printf 'text\n\377\376\nwith\ttab\n' | "$shmq" pub --stdin --corr 42 rt >"$out" 2>"$err" ||
	fail "pub --stdin"
"$shmq" sub --json --from 101 --count 3 rt >"$out" 2>"$err"
python3 - "$out" <<'EOF' || fail "sub --json of --stdin records"
import json, sys
r = [json.loads(line) for line in open(sys.argv[1])]
assert [x["payload"] for x in r] == ["text", "//4=", "with\ttab"], r
assert [x.get("encoding") for x in r] == [None, "base64", None], r
assert all(x["corr"] == 42 for x in r), r
EOF
expect 0 '103|42|8|rt|with	tab' '' -- sub --from 103 --count 1 -F '{seq}|{corr}|{len}|{topic}|{payload}' rt
expect 0 '' '' -- pub rt xyz --count 1
expect 0 '104 xyz' '' -- sub --from 104 --count 1 rt
# A topic without publish times: the time is "-" (null in JSON), the flag needs --create.
expect 0 '' '' -- pub --create --no-timestamps nts first
expect 0 '1 - first' '' -- sub --from earliest --count 1 -F '{seq} {time} {payload}' nts
expect 0 '"time":null,"ts_ns":0' '' -- sub --from earliest --count 1 -j nts
expect 2 '' 'need --create' -- pub --no-timestamps nts again
expect 0 '' '' -- pub rt --size 300 --count 2
"$shmq" sub --from 105 --count 2 -F '{len}' rt >"$out" 2>"$err"
[ "$(cat "$out")" = $'300\n300' ] || fail "pub --size 300"

# headers: -H on every record, --headers prints them, JSON carries them; bad ones are refused
expect 0 '' '' -- pub --create hd hdr --count 2 -H content-type:text/plain -H 'trace: a' -H trace:b
expect 0 '  content-type: text/plain' '' -- sub --from 1 --count 1 --headers hd
grep -qx '  trace: b' "$out" || fail "sub --headers: the repeated key"
"$shmq" sub --from 2 --count 1 -j hd >"$out" 2>"$err"
python3 - "$out" <<'EOF2' || fail "sub -j headers"
import json, sys
r = json.loads(open(sys.argv[1]).read())
assert r["headers"] == {"content-type": "text/plain", "trace": ["a", "b"]}, r
assert r["payload"] == "hdr", r
EOF2
expect 0 '' '' -- pub hd plain --count 1
"$shmq" sub --from 3 --count 1 -j hd >"$out" 2>"$err"
grep -q '"headers"' "$out" && fail "a record without headers shows some"
expect 2 '' "shmq pub: --header: not KEY:VALUE" -- pub hd x -H novalue
expect 2 '' "shmq pub: --header: the key must be an HTTP token" -- pub hd x -H 'a b:c'
expect 0 '' '' -- rm hd
# --ttl: an expired record is skipped by a subscriber; --delay: a group holds it back
expect 0 '' '' -- pub --create tl old --ttl 1ns
expect 0 '' '' -- pub tl new --ttl 1h
expect 0 '2 new' '' -- sub --from earliest --count 1 tl
expect 0 '' '' -- pub tl later --delay 200ms
expect 0 '3 later' '' -- sub --group g --from 3 --count 1 --timeout 10s tl
expect 2 '' 'shmq pub: --ttl' -- pub tl x --ttl soon
expect 0 '' '' -- rm tl@g
expect 0 '' '' -- rm tl

# a live subscriber, a publisher that waits for it, and a reliable log smaller than the run:
# the publisher waits for room, nothing is lost; the subscriber ends when it is gone (-EPIPE)
"$shmq" pub --create --slots 4 small x --count 1
timeout 30 "$shmq" sub small >"$dir/live" 2>"$dir/live.err" &
bg=$!
expect 0 '' '' -- pub --wait-subs 1 --timeout 10s small --count 500
wait "$bg"
rc=$?
bg=
[ "$rc" -eq 0 ] || fail "sub after the producer left: exit $rc $(cat "$dir/live.err")"
awk '{ if ($1 != NR + 1 || $2 != NR) exit 1 } END { exit NR != 500 }' "$dir/live" ||
	fail "live sub through a 4-slot log: $(head -3 "$dir/live") ... $(wc -l <"$dir/live") lines"

# pacing: 20 records at 100/s take about 0.19 s
start=$(date +%s%N)
expect 0 '' '' -- pub rt --count 20 --rate 100
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -ge 180 ] && [ "$ms" -lt 5000 ] || fail "pub --rate 100 of 20 took $ms ms"

# timeouts: exit 4, after about the time asked; a duration's units
start=$(date +%s%N)
expect 4 '' '' -- sub --timeout 300ms rt
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -ge 280 ] && [ "$ms" -lt 3000 ] || fail "sub --timeout 300ms took $ms ms"
expect 4 '' '' -- sub --timeout 0.2 rt
expect 4 '' '' -- sub --timeout 200000us --from earliest --count 1000 rt
expect 0 '' '' -- sub --timeout 200ms --from earliest rt
[ "$(wc -l <"$out")" -eq 126 ] || fail "sub --timeout with records: $(wc -l <"$out") lines"
expect 4 '' "wait for subscribers of topic 'rt'" -- pub --wait-subs 1 --timeout 100ms rt
expect 4 '' '' -- pub --wait-subs 1 --timeout 0.001m rt # 60 ms
expect 4 '' '' -- pub --wait-subs 1 --timeout 0.00001h rt # 36 ms
expect 4 '' '' -- pub --wait-subs 1 --timeout 20000000ns rt
# idle: parked, not spinning (a second of waiting costs well under 0.3 s of CPU)
TIMEFORMAT='%U %S'
cpu=$({ time "$shmq" sub --timeout 1s rt >/dev/null 2>&1; } 2>&1)
awk -v c="$cpu" 'BEGIN { split(c, a, " "); exit !(a[1] + a[2] < 0.3) }' ||
	fail "an idle sub used $cpu s of CPU"

# wildcard patterns: existing topics from their start, and a topic made later
"$shmq" pub --create w.a alpha && "$shmq" pub --create w.b beta
expect 0 'w.a 1 alpha' '' -- sub --from earliest --count 2 --timeout 10s 'w.*'
grep -qxF 'w.b 1 beta' "$out" || fail "wildcard sub missed w.b"
timeout 30 "$shmq" sub -o json --count 1 --timeout 10s 'w.#' >"$dir/wild" 2>&1 &
bg=$!
wait_for 'subscribers 1,' stat w.a # it is attached, so w.c.d is new to it
"$shmq" pub --create w.c.d gamma
wait "$bg"
rc=$?
bg=
[ "$rc" -eq 0 ] && grep -qF '"topic":"w.c.d"' "$dir/wild" || fail "w.# and a new topic: $rc $(cat "$dir/wild")"

# consumer groups: two members in turn share the records, each once, acked
expect 0 '' '' -- sub --group g --from earliest --count 50 rt
cp "$out" "$dir/g1"
expect 0 '' '' -- sub --group g --count 76 --timeout 5s rt
cat "$dir/g1" "$out" | awk '{ print $1 }' | sort -n | uniq | wc -l | grep -qx 126 ||
	fail "group members did not share 126 records"
expect 0 'acked 126,' '' -- group rt g
expect 0 'acked 126,' '' -- group stat rt g
expect 0 'g  lag 0' '' -- group ls rt
"$shmq" group ls -o json rt >"$out"
python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).readline()); assert o["group"]=="g" and o["acked"]==126' "$out" ||
	fail "group ls -o json"
# group reset: refused while a member is attached (1); to earliest the records come again;
# --seq is clamped to what the topic retains; back to latest (lag 0) for what follows
timeout 30 "$shmq" sub --group g --timeout 20s rt >/dev/null 2>&1 &
bg=$!
wait_for '  member pid ' group rt g
expect 1 '' "shmq: reset group 'g' of topic 'rt': " -- group reset rt g --latest
grep -qF 'a live member is attached' "$err" || fail "group reset with a member: no reason"
kill "$bg"
wait "$bg"
bg=
expect 0 'group g on rt: reset to 1' '' -- group reset rt g --earliest
expect 0 'floor 1, next 1, tail 127, lag 126' '' -- group rt g
expect 0 '' '' -- sub --group g --count 126 --timeout 5s rt
awk '{ print $1 }' "$out" | sort -n | uniq | wc -l | grep -qx 126 || fail "reset to earliest: not 126 records again"
expect 0 'group g on rt: reset to 127 (clamped' '' -- group reset rt g --seq 5000
"$shmq" group reset -o json rt g --seq 100 >"$out"
python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).readline()); assert o["seq"]==100 and o["group"]=="g", o' "$out" ||
	fail "group reset -o json"
expect 0 'reset to 127' '' -- group reset rt g --latest
expect 2 '' 'reset wants one of --earliest, --latest, --seq N' -- group reset rt g
expect 2 '' 'reset wants one of --earliest, --latest, --seq N' -- group reset rt g --latest --earliest
expect 2 '' '--earliest, --latest and --seq are for reset' -- group stat rt g --latest
expect 2 '' "shmq group: --seq: not a number: 'x'" -- group reset rt g --seq x
expect 1 '' "shmq: reset group 'nope' of topic 'rt': " -- group reset rt nope --latest
expect 2 '' 'a pattern takes no --group' -- sub --group g 'w.*'
# a member that joins before any producer waits for one, then ends once it is gone
timeout 30 "$shmq" sub --group late --timeout 20s small >"$dir/late" 2>&1 &
bg=$!
wait_for '  member pid ' group small late
"$shmq" pub small --count 5
wait "$bg"
rc=$?
bg=
[ "$rc" -eq 0 ] && [ "$(awk '{ print $2 }' "$dir/late" | tr '\n' ' ')" = "1 2 3 4 5 " ] ||
	fail "a group member before the producer: exit $rc: $(cat "$dir/late")"
expect 0 '' '' -- rm small@late

# top: one frame, a topic's rate while a publisher runs, and its group under it
"$shmq" pub rt --count 100 --rate 100 &
pub=$!
wait_for 'producers 1,' stat rt
expect 0 '' '' -- top --once -d 500ms
wait "$pub"
grep -qE '^rt +[0-9]+\.[0-9] +[0-9]+ +[01] +0 ' "$out" && grep -qE '^  @g +0\.0 acked/s, lag [0-9]+' "$out" ||
	fail "top --once"
awk '$1 == "rt" { exit !($2 > 30 && $2 < 200) }' "$out" || fail "top --once: rt's rate"
"$shmq" top -o json -c 2 -d 100ms >"$out" 2>"$err"
python3 -c 'import json,sys; o=[json.loads(l) for l in open(sys.argv[1])]; assert {"rt","rt@g"} <= {x["name"] for x in o}' "$out" ||
	fail "top -o json"
expect 2 '' "shmq top: --sort: not name, rate or lag: 'x'" -- top --sort x
# top in a real terminal (tmux): the screen shows a topic's rate within a few frames, one frame at
# a time (each clears the screen)
if command -v tmux >/dev/null 2>&1; then
	tmux_sock=$dir/tmux
	"$shmq" pub --create tv --count 300 --rate 100 &
	pub=$!
	tmux -S "$tmux_sock" new-session -d -x 120 -y 30 \
		"env LD_LIBRARY_PATH='${LD_LIBRARY_PATH:-}' SHMQ_NAMESPACE=$SHMQ_NAMESPACE SHMQ_DAEMON=off '$shmq' top -d 200ms" \
		</dev/null >/dev/null 2>&1
	seen=
	for _ in $(seq 40); do
		sleep 0.2
		tmux -S "$tmux_sock" capture-pane -p >"$dir/screen" 2>/dev/null
		grep -qE '^tv +[1-9][0-9]*\.[0-9] ' "$dir/screen" && { seen=1; break; }
	done
	tmux -S "$tmux_sock" kill-server </dev/null >/dev/null 2>&1
	wait "$pub"
	"$shmq" rm tv
	[ -n "$seen" ] && [ "$(grep -c 'TOPIC / @GROUP' "$dir/screen")" -eq 1 ] ||
		fail "top in tmux: $(cat "$dir/screen")"
	echo "ok: top in tmux"
else
	echo "skip: top in tmux (no tmux)"
fi

# ls and stat as JSON
"$shmq" ls -o json >"$out"
python3 - "$out" <<'EOF' || fail "ls -o json"
import json, sys
objs = {o["name"]: o for o in map(json.loads, open(sys.argv[1]))}
assert objs["rt"]["kind"] == "topic" and objs["rt"]["mode"] == "0600", objs["rt"]
assert objs["rt"]["producers"] == 0 and objs["rt"]["subscribers"] == 0, objs["rt"]
assert objs["rt@g"]["kind"] == "consumer group" and objs["rt@g"]["members"] == 0
assert {"w.a", "w.b", "w.c.d", "small"} <= set(objs)
EOF
# ls rates: a topic's records a second while a publisher runs, in the table and as JSON
"$shmq" pub --create lr --count 150 --rate 100 &
pub=$!
wait_for 'producers 1,' stat lr
expect 0 '' '' -- ls --interval 300ms
grep -qE '^lr +topic .*producers 1, subscribers 0, [0-9]+\.[0-9] msg/s$' "$out" &&
	grep -qE '^rt@g +consumer group .*members 0, 0\.0 acked/s$' "$out" || fail "ls: rates"
awk '$1 == "lr" { exit !($(NF-1) > 30 && $(NF-1) < 200) }' "$out" || fail "ls: lr's rate"
"$shmq" ls -o json >"$out"
python3 - "$out" <<'EOF' || fail "ls -o json: rates"
import json, sys
objs = {o["name"]: o for o in map(json.loads, open(sys.argv[1]))}
assert 30 < objs["lr"]["rate"] < 200, objs["lr"]
assert objs["rt"]["rate"] == 0 and objs["rt@g"]["acked_per_s"] == 0, objs
EOF
wait "$pub"
expect 0 'producers 0, subscribers 0' '' -- ls --no-rate
grep -q '/s' "$out" && fail "ls --no-rate shows a rate"
expect 2 '' "shmq ls: --interval: not between 1ms and 60s: '0'" -- ls --interval 0
expect 2 '' "shmq ls: --interval: " -- ls --interval x
expect 0 '' '' -- rm lr
"$shmq" stat -o json rt >"$out"
python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).read()); assert o["tail"]==227 and o["slots"]==256 and o["groups"][0]["name"]=="g", o' "$out" ||
	fail "stat -o json"

# hz: the rate and no gaps over a window
timeout 30 "$shmq" hz -w 2s -c 1 rt >"$dir/hz" 2>&1 &
bg=$!
"$shmq" pub rt --wait-subs 1 --timeout 10s --count 40 --rate 100
wait "$bg"
bg=
grep -qE '^rt  rate [0-9.]+/s, n 40, interval mean [0-9.]+ ms, .* gaps 0 \(lost 0, skipped 0\)' \
	"$dir/hz" || fail "hz: $(cat "$dir/hz")"

# dlq: ls finds *.dlq topics; peek reads without consuming
"$shmq" pub --create rt.dlq --count 3
expect 0 'rt.dlq  records 3 (seq 1 to 3)' '' -- dlq ls
expect 0 '1  (not a dead letter)' '' -- dlq peek --count 2 rt.dlq
[ "$(wc -l <"$out")" -eq 2 ] || fail "dlq peek --count 2"
expect 0 '1  (not a dead letter)' '' -- dlq peek rt.dlq
expect 2 '' "shmq dlq: unknown subcommand 'frob'" -- dlq frob

# dlq purge: refuses without --yes and a terminal; with --yes, ls and peek show nothing old
"$shmq" pub --create pg.dlq --count 4
expect 2 '' 'shmq dlq purge: standard input is not a terminal: give --yes' -- dlq purge pg.dlq
expect 0 'pg.dlq  records 4 (seq 1 to 4)' '' -- dlq ls
expect 0 'purged 4' '' -- dlq purge --yes pg.dlq
expect 0 'pg.dlq  records 0' '' -- dlq ls
expect 0 '' '' -- dlq peek pg.dlq
[ -s "$out" ] && fail "dlq peek after purge"
"$shmq" pub pg.dlq --count 2
expect 0 'pg.dlq  records 2 (seq 5 to 6)' '' -- dlq ls
expect 0 'purged 2' '' -- dlq purge -y pg.dlq
expect 0 'purged 0' '' -- dlq purge pg.dlq
expect 0 '' '' -- rm pg.dlq@redrive pg.dlq

# wrong names, missing objects, bad options
expect 1 '' "shmq: open topic 'a b' in namespace '$SHMQ_NAMESPACE': Invalid argument" -- pub 'a b' x
expect 1 '' "bad name: ' ' at offset 1" -- sub 'a b'
expect 1 '' "shmq: open topic 'nosuch' in namespace '$SHMQ_NAMESPACE': No such object" -- pub nosuch x
expect 1 '' "shmq: open topic 'nosuch' in namespace '$SHMQ_NAMESPACE': No such object" -- sub nosuch
expect 1 '' "bad pattern: '*' at offset 2" -- sub 'a.*b'
expect 2 '' "shmq pub: unknown option '--bogus'" -- pub --bogus rt
expect 2 '' "shmq pub: no TOPIC given" -- pub
expect 2 '' "shmq pub: --count: not a number: 'x'" -- pub --count x rt
expect 2 '' "shmq pub: --delay" -- pub --delay x rt
expect 2 '' "BODY, --size and --stdin exclude each other" -- pub --size 3 rt body
expect 2 '' "need --create" -- pub --slots 8 rt
expect 2 '' "shmq sub: --timeout: not a duration (300ms, 20s, 5m, 1h): '5x'" -- sub --timeout 5x rt
expect 2 '' "not a duration" -- sub --timeout -1s rt
expect 2 '' "shmq sub: --from: not earliest, latest or a sequence number: 'x'" -- sub --from x rt
expect 2 '' "shmq sub: --format: unknown field in '{nope}'" -- sub -F '{nope}' rt
expect 2 '' "shmq sub: unexpected argument 'b'" -- sub a b
expect 2 '' "not an output format (table, json): 'yaml'" -- ls -o yaml
expect 0 'usage: shmq pub' '' -- pub -h
expect 0 'usage: shmq sub' '' -- sub --help

# a required daemon that nobody runs: 3
SHMQ_DAEMON=required SHMQ_SOCKET=$dir/nobody.sock expect 3 '' 'Connection refused' -- sub rt
SHMQ_DAEMON=required SHMQ_SOCKET=$dir/nobody.sock expect 3 '' 'Connection refused' -- pub rt x
SHMQ_DAEMON=required SHMQ_SOCKET=$dir/nobody.sock expect 3 '' '' -- sub 'w.*'

# doctor: every check on a line of its own; a required daemon nobody runs fails it
expect 0 '/dev/shm: tmpfs' '' -- doctor -n "$SHMQ_NAMESPACE"
grep -qE '^(OK|WARN)  +pidfd_open' "$out" || fail "doctor: no pidfd_open line"
grep -qE "^(OK|WARN)  +namespace $SHMQ_NAMESPACE: " "$out" || fail "doctor: no namespace line"
SHMQ_DAEMON=required SHMQ_SOCKET=$dir/nobody.sock expect 1 'FAIL  namespace' '' -- \
	doctor -n "$SHMQ_NAMESPACE"

# lat: a fixed rate, every record received, the percentiles, an .hlog with its header
expect 0 'lat.t: count 200 at 2000/s' '' -- lat lat.t --count 200 --rate 2000 -o "$dir/lat.hlog"
for p in p50 p90 p99 p99.9 max; do grep -qF " $p " "$out" || fail "lat: no $p"; done
grep -qF '#[Histogram log format version 1.3]' "$dir/lat.hlog" || fail "lat: .hlog version line"
grep -qF '#[StartTime: ' "$dir/lat.hlog" || fail "lat: .hlog StartTime line"
grep -qE '^[0-9.]+,[0-9.]+,[0-9.]+,HISTF' "$dir/lat.hlog" || fail "lat: .hlog interval line"
expect 0 '"count":50' '' -- lat lat.t --duration 0.05 --rate 1000 --size 0 -o json
expect 2 '' 'shmq lat: --count and --duration: give one' -- lat lat.t -c 1 -d 1s
expect 2 '' 'shmq lat: --rate' -- lat lat.t --rate 0
expect 0 '' '' -- rm lat.t

# hist --svg: a recording subscriber's distribution as a standalone SVG
"$shmq" pub --create svg.t --count 0
"$shmq" sub --latency -t 10s svg.t >/dev/null &
bg=$!
wait_for 'subscribers 1' stat svg.t
"$shmq" pub svg.t --rate 50 --count 100 &
svgpub=$!
for i in $(seq 100); do "$shmq" hist svg.t >/dev/null 2>&1 && break; sleep 0.05; done
expect 0 'Total count' '' -- hist svg.t --svg "$dir/h.svg"
head -c 4 "$dir/h.svg" | grep -qF '<svg' || fail "hist --svg: not an SVG"
expect 2 '' 'shmq hist: --svg' -- hist svg.t -i 1s --svg "$dir/x.svg"
kill "$svgpub" "$bg" 2>/dev/null
wait "$svgpub" "$bg" 2>/dev/null
bg=
expect 0 '' '' -- rm svg.t

# rm: a group, topics; a second time it is gone
expect 0 '' '' -- rm rt@g
expect 1 '' "shmq: remove group 'g' of topic 'rt' in namespace '$SHMQ_NAMESPACE': No such object" -- rm rt@g
expect 0 '' '' -- rm rt rt.dlq small w.a w.b w.c.d nts
expect 1 '' "shmq: remove 'rt' in namespace '$SHMQ_NAMESPACE': No such object" -- rm rt
expect 0 '' '' -- ls
[ -s "$out" ] && fail "ls after rm"

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
