#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shmq-nats across a 30-second outage of its servers in the middle of a stream: two producers
# publish 100 records a second for 36 s, one into a topic exported to a core nats-server (and
# imported by a second bridge into another namespace), one into a topic exported with
# --jetstream; 3 s in, both servers are stopped, and started again 30 s later on the same ports.
# Core NATS (the exporter held over the restart until the importer subscribed again): every
# record arrives, in order, at least once (duplicates counted and listed).
# JetStream: the stream holds each record once (its /jsz count), imported back in order.
# Skips (77) without nats-server or without the bridge (no libnats at build time).
# test_nats_outage.sh SHMQ SHMQ-NATS
set -uo pipefail
. "$(dirname "$0")/nats_common.sh" "$1" "$2" tout
nats_server_or_skip
# N records at RATE a second; the outage from 3 s in, for OUTAGE seconds (OUTAGE=0: the
# servers are not started again, which must fail).
n=${N:-3600} rate=100 outage=${OUTAGE:-30}
nats_env
read -r port cport jport mport <<<"$(free_ports 4)"
url=nats://127.0.0.1:$port jurl=nats://127.0.0.1:$jport
mkdir "$dir/js"

# Both servers; the JetStream one keeps its stream in $dir/js across the outage.
start_servers() {
	"$natsd" -a 127.0.0.1 -p "$port" -m "$cport" >>"$dir/server.log" 2>&1 &
	server=$!
	"$natsd" -js -sd "$dir/js" -a 127.0.0.1 -p "$jport" -m "$mport" >>"$dir/js.log" 2>&1 &
	jserver=$!
	wait_port "$port"
	wait_port "$jport"
}
stop_servers() {
	kill "$server" "$jserver"
	wait "$server" "$jserver" 2>/dev/null
	server= jserver=
}
# subscribed SUBJECT: a client of the core server subscribes to SUBJECT (its /connz).
subscribed() {
	python3 -c 'import json, sys, urllib.request
u = "http://127.0.0.1:%s/connz?subs=1" % sys.argv[1]
cs = json.load(urllib.request.urlopen(u))["connections"] or []
sys.exit(0 if any(sys.argv[2] in (c.get("subscriptions_list") or []) for c in cs) else 1)' \
		"$cport" "$1" 2>/dev/null
}
stream_msgs() {
	python3 -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen("http://127.0.0.1:%s/jsz" % sys.argv[1]))["messages"])' \
		"$mport" 2>/dev/null || echo -1
}
# tail NS TOPIC: the topic's next sequence number (records published + 1).
tail_of() {
	"$shmq" stat -n "$1" -o json "$2" 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["tail"])' 2>/dev/null || echo 0
}
# wait_for WHAT SECONDS CMD...: until CMD succeeds, polled every 0.2 s.
wait_for() {
	local what=$1 i
	shift 1
	local tries=$(($1 * 5))
	shift
	for i in $(seq "$tries"); do
		"$@" && return 0
		sleep 0.2
	done
	fail "$what"
	return 1
}
# metric FILE NAME: the value of the first sample of NAME in FILE.
metric() {
	sed -n "s/^$2{.*} \([0-9]*\)\$/\1/p" "$1" | head -1
}

# The topics hold the whole stream (a reliable topic: the outage's backlog waits in it); the
# importing side's too, so that the records can be read back from the earliest afterwards.
# An imported record carries its NATS headers (shmq-origin ...): room for them (512 bytes).
for t in "$ns1 o.x 64" "$ns2 o.x 512" "$ns3 p.x 64" "$ns4 p.x 512"; do
	set -- $t
	"$shmq" pub -n "$1" --create --slots 8192 --max-msg "$3" -c 0 "$2" >/dev/null ||
		fail "create $2 in $1"
done
start_servers
"$bridge" --url "$url" -n "$ns1" --export 'o.>' --reconnect-wait 1000 \
	--metrics-file "$dir/b1.prom" 2>"$dir/b1.err" &
pids+=($!)
pid_b1=$!
"$bridge" --url "$url" -n "$ns2" --import 'o.>' --reconnect-wait 100 2>"$dir/b2.err" &
pids+=($!)
pid_b2=$!
"$bridge" --url "$jurl" -n "$ns3" --export 'p.>' --jetstream OUT --reconnect-wait 1000 \
	--metrics-file "$dir/j1.prom" 2>"$dir/j1.err" &
pids+=($!)
pid_j1=$!
sleep 1.5 # a scan (every 500 ms) to join the topics, the stream made

"$shmq" pub -n "$ns1" -c "$n" -r "$rate" o.x >/dev/null 2>"$dir/pub1.err" &
pub1=$!
"$shmq" pub -n "$ns3" -c "$n" -r "$rate" p.x >/dev/null 2>"$dir/pub3.err" &
pub3=$!
sleep 3
# Core NATS keeps nothing a server accepted and had not yet delivered when it is killed, so a
# record in that window would be lost to core NATS, not to the bridge. The exporter is held
# (SIGSTOP) until the importing side stopped growing, so that the stop falls between
# records; the producers go on publishing into the topic all along.
kill -STOP "$pid_b1"
quiet_tail() {
	local a b
	a=$(tail_of "$ns2" o.x)
	sleep 0.5
	b=$(tail_of "$ns2" o.x)
	[ "$a" = "$b" ]
}
wait_for "the importer did not settle in 10 s" 10 quiet_tail
stop_servers
kill -CONT "$pid_b1"
t0=$(tail_of "$ns1" o.x)
echo "servers stopped at record $((t0 - 1)) of $n"
sleep "$outage"
# The records published meanwhile wait in the topics, owed to the bridges' groups.
t1=$(tail_of "$ns1" o.x)
[ "$t1" -gt "$t0" ] && echo "ok: $((t1 - t0)) records published during the outage" ||
	fail "no records published during the outage ($t0 -> $t1)"
for f in b1 j1; do
	c=$(metric "$dir/$f.prom" shmq_nats_connected) bl=$(metric "$dir/$f.prom" shmq_nats_backlog)
	[ "$c" = 0 ] && [ "${bl:-0}" -gt 0 ] && echo "ok: $f disconnected, $bl records owed" ||
		fail "$f during the outage: connected '$c', backlog '$bl'"
done
# Core NATS keeps nothing for a subscriber that has not subscribed again yet (docs/nats.md,
# the limits): the exporter is held (SIGSTOP) over the restart until the importer is back.
kill -STOP "$pid_b1"
if [ "$outage" -gt 0 ]; then
	start_servers
	echo "servers started again"
	wait_for "the importer did not subscribe again in 20 s" 20 subscribed 'o.>'
fi
kill -CONT "$pid_b1"
wait "$pub1" || fail "pub o.x: $(cat "$dir/pub1.err")"
wait "$pub3" || fail "pub p.x: $(cat "$dir/pub3.err")"

# Core NATS: the exporter owes nothing once every record went out; the importer's topic then
# has each record at least once. Duplicates are records in flight when the server stopped
# (published into the connection, their flush failed: released and sent again), so they are
# all of the records published before the restart.
owed_none() {
	[ "$(metric "$dir/b1.prom" shmq_nats_backlog)" = 0 ] &&
		[ "$(tail_of "$ns2" o.x)" -gt "$n" ]
}
wait_for "core: not every record exported and imported in 30 s" 30 owed_none
sleep 1 # a late duplicate
"$shmq" sub -n "$ns2" -f earliest -F '{payload}' -c 100000 -t 1s o.x >"$dir/o.out" 2>/dev/null
awk '!seen[$0]++' "$dir/o.out" >"$dir/o.first"
dups=$(awk 'seen[$0]++' "$dir/o.out" | tr '\n' ' ')
seq "$n" | cmp -s - "$dir/o.first" &&
	echo "ok: core: all $n records, in order, $(($(wc -l <"$dir/o.out") - n)) duplicates: ${dups:-none}" ||
	fail "core: $(wc -l <"$dir/o.first") distinct records of $n, or out of order: $(seq "$n" |
		diff - "$dir/o.first" | head -5 | tr '\n' ' ')"
for d in $dups; do
	[ "$d" -lt "$t1" ] || fail "core: duplicate $d was published after the restart"
done

# JetStream: the stream holds each record once.
has_all() { [ "$(stream_msgs)" -ge "$n" ]; }
wait_for "JetStream: the stream did not get $n messages in 30 s" 30 has_all
sleep 1
m=$(stream_msgs)
[ "$m" -eq "$n" ] && echo "ok: JetStream: the stream holds $n messages" ||
	fail "JetStream: the stream holds $m messages, not $n"
kill "$pid_b1" "$pid_b2" "$pid_j1"
wait "$pid_b1" "$pid_b2" "$pid_j1"
pids=()
echo "core exporter: $(cat "$dir/b1.err")"
echo "JetStream exporter: $(cat "$dir/j1.err")"

# ... in order: a bridge importing the stream into ns4 gets 1..N.
"$bridge" --url "$jurl" -n "$ns4" --import 'p.>' --jetstream OUT 2>"$dir/j2.err" &
pids+=($!)
imported() { [ "$(tail_of "$ns4" p.x)" -gt "$n" ]; }
wait_for "JetStream: $n records not imported back in 30 s" 30 imported
sleep 1
"$shmq" sub -n "$ns4" -f earliest -F '{payload}' -c 100000 -t 1s p.x >"$dir/p.out" 2>/dev/null
seq "$n" | cmp -s - "$dir/p.out" && echo "ok: JetStream: 1..$n imported back, in order, once" ||
	fail "JetStream: $(wc -l <"$dir/p.out") imported back: $(seq "$n" | diff - "$dir/p.out" |
		head -5 | tr '\n' ' ')"

if [ "$fails" -ne 0 ]; then
	for f in "$dir"/*.err; do echo "--- $f"; cat "$f"; done
	echo "$fails failures"
	exit 1
fi
echo "all passed"
