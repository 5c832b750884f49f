#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shmq-nats through a nats-server this test starts on a free loopback port (a bridge started
# before it ends on SIGTERM): two namespaces bridged both ways (payloads in order, headers
# carried, nothing bounced back), a plain NATS message without headers imported, a bridge that
# imports what it exports in one namespace (no echo), and store-and-forward (the server
# stopped, 100 records published, the server started again: all 100 arrive, in order).
# Skips (77) without nats-server or without the bridge (no libnats at build time).
# test_nats.sh SHMQ SHMQ-NATS
set -uo pipefail
. "$(dirname "$0")/nats_common.sh" "$1" "$2" tnats

# 0. The subject mapping table: shmq '*' and '>' are NATS's, '#' maps to what covers it.
want='export a.b site1.a.b
export a.* site1.a.*
export a.> site1.a.>
export a.# site1.a.> site1.a
export # site1.>
export a.#.b site1.a.>
export *.x site1.*.x
import a.#.b.# site1.a.>
import #.b site1.>'
got=$("$bridge" --subjects --prefix site1 -e a.b -e 'a.*' -e 'a.>' -e 'a.#' -e '#' -e 'a.#.b' \
	-e '*.x' -i 'a.#.b.#' -i '#.b')
[ "$got" = "$want" ] && echo "ok: subject mapping table" || fail "mapping: $got"
[ "$("$bridge" --subjects -e 'a.#')" = 'export a.# a.> a' ] || fail "mapping without a prefix"

# 0b. --config FILE: the long options' names, patterns repeatable; the command line wins,
# its patterns replacing the file's of their kind; unknown keys and bad values refused.
cdir=$(mktemp -d)
printf '# a comment\n\nprefix = site9\nexport = a.#\nexport = b.*\nimport = c.>\n' >"$cdir/b.conf"
[ "$("$bridge" --subjects -c "$cdir/b.conf")" = 'export a.# site9.a.> site9.a
export b.* site9.b.*
import c.> site9.c.>' ] && echo "ok: --config" || fail "--config: $("$bridge" --subjects -c "$cdir/b.conf" 2>&1)"
[ "$("$bridge" --subjects -c "$cdir/b.conf" -p p2 -e x)" = 'export x p2.x
import c.> p2.c.>' ] && echo "ok: the command line wins over --config" || fail "--config precedence"
printf 'exprot = a.b\n' >"$cdir/bad.conf"
"$bridge" --subjects -c "$cdir/bad.conf" >/dev/null 2>"$cdir/err"
[ $? -eq 2 ] && grep -q 'bad.conf:1: unknown line' "$cdir/err" && echo "ok: --config unknown key" ||
	fail "--config unknown key: $(cat "$cdir/err")"
printf 'export = a.*b\n' >"$cdir/bad.conf"
"$bridge" --subjects -c "$cdir/bad.conf" >/dev/null 2>&1
[ $? -eq 2 ] && echo "ok: --config bad pattern" || fail "--config bad pattern accepted"
"$bridge" --subjects -c "$cdir/none.conf" >/dev/null 2>&1
[ $? -eq 2 ] && echo "ok: --config missing file" || fail "--config missing file accepted"
rm -rf "$cdir"

nats_server_or_skip
nats_env
read -r port jport mport <<<"$(free_ports 3)"
url=nats://127.0.0.1:$port jurl=nats://127.0.0.1:$jport

start_server() {
	"$natsd" -a 127.0.0.1 -p "$port" >>"$dir/server.log" 2>&1 &
	server=$!
	wait_port "$port"
}
stop_server() {
	kill "$server"
	wait "$server" 2>/dev/null
	server=
}

# bridge NAME ARGS...: start shmq-nats in the background, its stderr in $dir/NAME.err.
bridge() {
	local name=$1
	shift
	"$bridge" --url "$url" "$@" 2>"$dir/$name.err" &
	pids+=($!)
}

# seq_payloads N FILE: FILE's lines are the payloads 1..N ("{payload}" format).
seq_payloads() {
	seq "$1" | cmp -s - "$2"
}

# A bridge started before its server connects in the background; SIGTERM still ends it.
"$bridge" --url "$url" -n "$ns1" --import 'a.>' 2>"$dir/early.err" &
early=$!
sleep 0.5
kill "$early"
for i in $(seq 100); do
	kill -0 "$early" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$early" 2>/dev/null; then
	fail "a bridge with no server up did not end on SIGTERM"
	kill -KILL "$early"
fi
wait "$early" && echo "ok: a bridge with no server up ends on SIGTERM" ||
	fail "a bridge with no server up exited $?: $(cat "$dir/early.err")"

start_server
# The importer of the store-and-forward check reconnects sooner than the exporter: core NATS
# keeps nothing for a subscriber that has not subscribed again yet.
bridge b1 -n "$ns1" --export 'a.>' --import 'a.>' --reconnect-wait 1500 \
	--metrics-file "$dir/b1.prom"
pid_b1=${pids[-1]}
# b2 takes its options from a config file (the URL from the command line).
printf 'namespace = %s\nexport = a.>\nimport = a.>\nreconnect-wait = 100\n' "$ns2" >"$dir/b2.conf"
bridge b2 -c "$dir/b2.conf"
bridge b3 -n "$ns3" --export 'l.>' --import 'l.>'
sleep 0.5

# 1. ns1 -> ns2: payloads in order, the -H headers and the origin headers carried.
"$shmq" sub -n "$ns2" -H -F '{payload}' -c 10 -t 20s 'a.rt.>' >"$dir/rt.out" 2>"$dir/rt.err" &
sub=$!
sleep 0.5
"$shmq" pub -n "$ns1" --create -c 10 -H 'Trace-Id:abc123' -H 'k:v 1' a.rt.x >/dev/null ||
	fail "pub a.rt.x"
wait "$sub" || fail "sub a.rt.> in $ns2 exited $?: $(cat "$dir/rt.err")"
grep -v '^  ' "$dir/rt.out" >"$dir/rt.payloads"
seq_payloads 10 "$dir/rt.payloads" && echo "ok: 10 records ns1 -> ns2 in order" ||
	fail "payloads: $(tr '\n' ' ' <"$dir/rt.payloads")"
for h in 'Trace-Id: abc123' 'k: v 1' 'Shmq-Topic: a.rt.x' 'Shmq-Seq: 10' 'Shmq-Producer-Seq: 10' \
	"shmq-origin: .*/$ns1\$" "Shmq-Origin: .*/$ns1\$" 'Shmq-Producer: [0-9]'; do
	n=$(grep -c -- "^  $h" "$dir/rt.out")
	[ "$n" -ge 1 ] && echo "ok: header '$h'" || fail "header '$h' missing: $(head -20 "$dir/rt.out")"
done
[ "$(grep -c '^  Trace-Id: abc123$' "$dir/rt.out")" -eq 10 ] || fail "Trace-Id not on every record"

# 2. No bounce: b2 exports a.> too, but what it imported is not sent back to ns1.
sleep 1.5
n=$("$shmq" sub -n "$ns1" -f earliest -c 100 -t 1s a.rt.x 2>/dev/null | wc -l)
[ "$n" -eq 10 ] && echo "ok: nothing bounced back into ns1" || fail "a.rt.x in ns1 has $n records"

# 3. ns2 -> ns1, through the same two bridges.
"$shmq" sub -n "$ns1" -F '{payload}' -c 5 -t 20s 'a.back.>' >"$dir/back.out" 2>&1 &
sub=$!
sleep 0.5
"$shmq" pub -n "$ns2" --create -c 5 a.back.y >/dev/null || fail "pub a.back.y"
wait "$sub" || fail "sub a.back.> in $ns1 exited $?"
seq_payloads 5 "$dir/back.out" && echo "ok: 5 records ns2 -> ns1 in order" ||
	fail "back: $(tr '\n' ' ' <"$dir/back.out")"

# 3b. A message of a plain NATS client, without any header, is imported tagged shmq-origin nats.
"$shmq" sub -n "$ns3" -H -F '{payload}' -c 1 -t 20s 'l.plain.>' >"$dir/plain.out" 2>&1 &
sub=$!
sleep 0.5
python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"CONNECT {\"verbose\":false}\r\nPUB l.plain.x 5\r\nhello\r\nPING\r\n")
buf = b""
while b"PONG" not in buf:
	buf += s.recv(4096)' "$port" || fail "plain NATS publish"
wait "$sub" || fail "sub l.plain.> in $ns3 exited $?: $(cat "$dir/plain.out")"
[ "$(head -1 "$dir/plain.out")" = hello ] && grep -q '^  shmq-origin: nats$' "$dir/plain.out" &&
	echo "ok: a message without headers imported, shmq-origin nats" ||
	fail "plain message: $(cat "$dir/plain.out")"

# 4. One bridge importing what it exports, in one namespace: its records are not echoed.
"$shmq" pub -n "$ns3" --create -c 7 l.x >/dev/null || fail "pub l.x"
sleep 2
n=$("$shmq" sub -n "$ns3" -f earliest -c 100 -t 1s l.x 2>/dev/null | wc -l)
[ "$n" -eq 7 ] && echo "ok: no echo in one namespace (7 records)" || fail "l.x has $n records, not 7"

# 5. Store-and-forward: 100 records published while nats-server is down all arrive.
"$shmq" sub -n "$ns2" -F '{payload}' -c 100 -t 40s 'a.sf.>' >"$dir/sf.out" 2>"$dir/sf.err" &
sub=$!
sleep 0.5
stop_server
sleep 0.5
"$shmq" pub -n "$ns1" --create -c 100 a.sf.z >/dev/null || fail "pub a.sf.z"
sleep 1.5
start_server
wait "$sub" || fail "sub a.sf.> in $ns2 exited $?: $(cat "$dir/sf.err")"
seq_payloads 100 "$dir/sf.out" && echo "ok: 100 records stored and forwarded, in order" ||
	fail "store-and-forward: $(wc -l <"$dir/sf.out") records: $(tr '\n' ' ' <"$dir/sf.out" | head -c 400)"

# The counters, printed on SIGUSR1.
kill -USR1 "$pid_b1"
sleep 0.3
grep -q 'exported [1-9]' "$dir/b1.err" && grep -q 'reconnects [1-9]' "$dir/b1.err" &&
	echo "ok: counters on SIGUSR1" || fail "b1's counters: $(cat "$dir/b1.err")"

# --metrics-file: the counters in the Prometheus text format (promtool checks it, if there).
sleep 1.2
grep -q "^shmq_nats_exported_total{namespace=\"$ns1\",bridge=\"$pid_b1\"} 110\$" "$dir/b1.prom" &&
	grep -q "^shmq_nats_backlog{namespace=\"$ns1\",bridge=\"$pid_b1\",topic=\"a.sf.z\"} 0\$" \
		"$dir/b1.prom" &&
	grep -q '^shmq_nats_connected{.*} 1$' "$dir/b1.prom" && echo "ok: metrics file" ||
	fail "metrics file: $(cat "$dir/b1.prom")"
if command -v promtool >/dev/null; then
	promtool check metrics <"$dir/b1.prom" >"$dir/promtool.out" 2>&1 &&
		echo "ok: promtool check metrics" || fail "promtool: $(cat "$dir/promtool.out")"
fi

# At exit each bridge prints its counters: b3 dropped its 7 echoes, b2 sent back none of the
# 110 records it imported from ns1 (they carry shmq-origin).
sleep 1 # a scan (every 500 ms) to find a.sf.z in ns2, made by the import
# The bridges' counters in shmq metrics of their namespace (each bridge's file in
# $SHMQ_METRICS_DIR), under the namespace's own families, and gone once the bridge is.
"$shmq" metrics -n "$ns1" >"$dir/ns1.metrics" 2>&1 || fail "shmq metrics -n $ns1"
grep -q "^shmq_nats_exported_total{namespace=\"$ns1\",bridge=\"$pid_b1\"} 110\$" "$dir/ns1.metrics" &&
	grep -q '^shmq_objects{' "$dir/ns1.metrics" && echo "ok: the bridge's counters in shmq metrics" ||
	fail "shmq metrics: $(grep shmq_nats "$dir/ns1.metrics" | head -5)"
if command -v promtool >/dev/null; then
	promtool check metrics <"$dir/ns1.metrics" >"$dir/promtool2.out" 2>&1 &&
		echo "ok: promtool check metrics (shmq metrics with a bridge)" ||
		fail "promtool: $(cat "$dir/promtool2.out")"
fi
for p in "${pids[@]}"; do kill "$p"; done
wait "${pids[@]}"
pids=()
grep -q 'echoes 7 ' "$dir/b3.err" && echo "ok: b3 counted 7 echoes" || fail "b3: $(cat "$dir/b3.err")"
"$shmq" metrics -n "$ns1" | grep -q '^shmq_nats_' && fail "a stopped bridge's counters still shown" ||
	echo "ok: no counters of a stopped bridge"
[ -z "$(ls "$SHMQ_METRICS_DIR")" ] && echo "ok: the bridges removed their metrics files" ||
	fail "left in the metrics directory: $(ls "$SHMQ_METRICS_DIR")"
grep -q 'looped 110 ' "$dir/b2.err" && echo "ok: b2 exported none of the 110 it imported" ||
	fail "b2: $(cat "$dir/b2.err")"

# 6. --jetstream: a stream (made by the bridge) gets each record once, however often it is sent:
# a second bridge with a group of its own sends all of them again, and a bridge SIGKILLed in
# the middle of a stream and restarted re-sends what it had not acked.
mkdir "$dir/js"
"$natsd" -js -sd "$dir/js" -a 127.0.0.1 -p "$jport" -m "$mport" >"$dir/js.log" 2>&1 &
jserver=$!
stream_msgs() {
	python3 -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen("http://127.0.0.1:%s/jsz" % sys.argv[1]))["messages"])' \
		"$mport" 2>/dev/null || echo -1
}
# wait_msgs N: until the stream holds N messages (20 s at most); then it must stay N.
wait_msgs() {
	local i n
	for i in $(seq 200); do
		n=$(stream_msgs)
		[ "$n" -ge "$1" ] && break
		sleep 0.1
	done
	sleep 1
	n=$(stream_msgs)
	[ "$n" -eq "$1" ] && echo "ok: the stream holds $1 messages" ||
		fail "the stream holds $n messages, not $1"
}
jbridge() {
	local name=$1
	shift
	"$bridge" --url "$jurl" -n "$ns4" --export 'j.>' --jetstream JT "$@" 2>>"$dir/$name.err" &
	pids+=($!)
}
jbridge j1 --reconnect-wait 100
pid_j1=${pids[-1]}
"$shmq" pub -n "$ns4" --create -c 50 j.x >/dev/null || fail "pub j.x"
wait_msgs 50
jbridge j2 --group again
pid_j2=${pids[-1]}
sleep 2
kill "$pid_j2"
wait "$pid_j2"
grep -q 'exported 50 .*duplicates 50 ' "$dir/j2.err" &&
	echo "ok: 50 records sent again, 50 duplicates" || fail "j2: $(cat "$dir/j2.err")"
wait_msgs 50
"$shmq" pub -n "$ns4" --create -c 400 -r 400 j.y >/dev/null &
jpub=$!
sleep 0.5
kill -KILL "$pid_j1"
wait "$pid_j1" 2>/dev/null
jbridge j3
wait "$jpub" || fail "pub j.y"
wait_msgs 450

# 7. --jetstream imports: a durable consumer of the stream brings its 450 messages into ns5,
# each acked after its local publish; a bridge started again goes on where it was: it imports
# the 10 records published meanwhile, and nothing twice.
# count_topic NS TOPIC: the records the topic holds.
count_topic() {
	"$shmq" sub -n "$1" -f earliest -c 100000 -t 1s "$2" 2>/dev/null | wc -l
}
"$bridge" --url "$jurl" -n "$ns5" --import 'j.>' --jetstream JT 2>"$dir/j4.err" &
pid_j4=$!
pids+=($pid_j4)
for i in $(seq 100); do
	[ -e /dev/shm/shmq."$ns5".j.y ] && [ "$(count_topic "$ns5" j.y)" -ge 400 ] && break
	sleep 0.2
done
kill "$pid_j4"
wait "$pid_j4"
"$shmq" pub -n "$ns4" --create -c 10 j.z >/dev/null || fail "pub j.z"
wait_msgs 460
"$bridge" --url "$jurl" -n "$ns5" --import 'j.>' --jetstream JT 2>"$dir/j5.err" &
pid_j5=$!
pids+=($pid_j5)
sleep 2
kill "$pid_j5"
wait "$pid_j5"
x=$(count_topic "$ns5" j.x) y=$(count_topic "$ns5" j.y) z=$(count_topic "$ns5" j.z)
[ "$x" -eq 50 ] && [ "$y" -eq 400 ] && [ "$z" -eq 10 ] &&
	echo "ok: 50 + 400 + 10 imported from the stream, once" ||
	fail "from the stream: j.x $x, j.y $y, j.z $z: $(cat "$dir/j4.err" "$dir/j5.err")"
"$shmq" sub -n "$ns5" -f earliest -F '{payload}' -c 400 -t 2s j.y >"$dir/jy.out" 2>/dev/null
seq_payloads 400 "$dir/jy.out" && echo "ok: j.y in order" || fail "j.y not 1..400 in order"

# Usage errors exit 2; -h exits 0.
"$bridge" -h >/dev/null || fail "-h"
"$bridge" --export 'a.>' >/dev/null 2>&1
[ $? -eq 2 ] || fail "no --url is not a usage error"
"$bridge" --url "$url" --export 'a.b#' >/dev/null 2>&1
[ $? -eq 2 ] || fail "a bad pattern is not a usage error"

if [ "$fails" -ne 0 ]; then
	for f in "$dir"/b*.err; do echo "--- $f"; cat "$f"; done
	echo "$fails failures"
	exit 1
fi
echo "all passed"
